"""One verdict type for every check: a status, a message an operator can act on, and plain facts.

`facts` holds JSON-able values the reports carry (expected and found digest or checksum, reference or
URL, runtime, the endpoint that served), never a credential. `warnings` are said beside a passing verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    # A status is its value: equal to, and hashed as, the string "pass", "fail"...
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    facts: Mapping = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "status", Status(self.status))

    def to_json(self) -> dict:
        return {"status": self.status.value, "message": self.message, "facts": dict(self.facts),
                "warnings": list(self.warnings)}

    @classmethod
    def from_json(cls, data: Mapping) -> "Verdict":
        return cls(Status(data["status"]), data["message"], dict(data.get("facts") or {}),
                   tuple(data.get("warnings", ())))
