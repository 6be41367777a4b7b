"""The run's results as plain values: a `Case` per check, a `Suite` per vantage point, one `RunResult`.

A vantage point is a node (its inventory name), `runner` (the machine the suite runs on, which
probes mirrors and registries itself) or `cluster` (a finding about the whole inventory, such as a
lint, naming the nodes it concerns in its facts). A case's kind says what was checked: `image`,
`file`, `installed_binary`, `mirror`, `lint`, `expected` (the node's downloads resolve). Its verdict
is `pass`, `fail` (the state is wrong), `error` (the state could not be established) or `skip`.

Every writer (JUnit, JSON, terminal) reads one `RunResult`. Pure: no I/O, no pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Sequence

from kubespray_verify.redact import redact_url

VERDICTS = ("pass", "fail", "error", "skip")
# Which finding of a suite is its worst: a wrong state first, then what could not be told, then a skip.
SEVERITY = {"fail": 3, "error": 2, "skip": 1, "pass": 0}
RUNNER = "runner"
CLUSTER = "cluster"


@dataclass(frozen=True)
class Case:
    vantage: str
    kind: str
    item: str
    verdict: str  # one of VERDICTS
    message: str
    facts: Mapping = field(default_factory=dict)  # JSON-able, no credential
    test: str = ""  # the pytest node id: checks/test_images.py::test_image[node1::calico_node]
    seconds: float = 0.0
    detail: str = ""  # the traceback of a check that broke (an error that is not a verdict)

    @property
    def classname(self) -> str:
        return f"{self.vantage}.{self.kind}"

    def to_json(self) -> dict:
        data = {"kind": self.kind, "item": self.item, "verdict": self.verdict, "message": self.message,
                "facts": dict(self.facts), "test": self.test, "seconds": round(self.seconds, 3)}
        if self.detail:
            data["detail"] = self.detail
        return data


def totals(cases: Iterable[Case]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for case in cases:
        counts[case.verdict] += 1
    return counts


@dataclass
class Suite:
    name: str  # the vantage point
    cases: list[Case] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        return totals(self.cases)

    @property
    def worst(self) -> Optional[Case]:
        """The first of the most severe findings, or None when every case passed."""
        found = max(self.cases, key=lambda c: SEVERITY[c.verdict], default=None)
        return found if found is not None and found.verdict != "pass" else None

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.cases)


@dataclass
class RunResult:
    suites: list[Suite]
    context: dict = field(default_factory=dict)  # kubespray {version, dir}, ansible_core, inventory, limit
    expected: dict = field(default_factory=dict)  # the expected state, summed up per host
    timings: dict = field(default_factory=dict)  # resolve, observe per node, mirror probes
    exit_status: Optional[int] = None

    @property
    def totals(self) -> dict[str, int]:
        return totals(c for s in self.suites for c in s.cases)

    def suite(self, name: str) -> Optional[Suite]:
        return next((s for s in self.suites if s.name == name), None)


# -- from the phases pytest reports ---------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """What one phase of a check (setup, call, teardown) said."""

    when: str
    verdict: str  # pass | fail | error | skip
    message: str = ""
    seconds: float = 0.0
    detail: str = ""


def settle(phases: Sequence[Phase]) -> tuple[str, str, str]:
    """(verdict, message, detail) of a check from its phases, in the order they ran.

    A setup that did not pass decides (an error or a skip: the check never ran); then the call's
    verdict; a teardown that broke makes a pass an error (a failure stays a failure).
    """
    verdict, message, detail = "pass", "", ""
    for phase in phases:
        if phase.when == "setup":
            if phase.verdict != "pass":
                return ("error" if phase.verdict == "fail" else phase.verdict), phase.message, phase.detail
            message = message or phase.message
        elif phase.when == "call":
            verdict, message, detail = phase.verdict, phase.message or message, phase.detail
        elif phase.verdict in ("fail", "error") and verdict in ("pass", "skip"):
            verdict, message, detail = "error", phase.message, phase.detail
    return verdict, message, detail


def order_suites(suites: Mapping[str, Suite], nodes: Sequence[str]) -> list[Suite]:
    """The nodes in inventory order (each, with or without cases), then runner, then cluster, then any other."""
    named = list(nodes) + [RUNNER, CLUSTER]
    ordered = [suites.get(n) or Suite(n) for n in nodes]
    ordered += [suites[n] for n in (RUNNER, CLUSTER) if n in suites]
    ordered += [suites[n] for n in sorted(suites) if n not in named]
    return ordered


def scrubbed(result: RunResult) -> RunResult:
    """The result with every URL's userinfo masked, wherever a message, fact or property holds one.

    The engine writes none (its URLs come without credentials); this is the reports' own guard, for a
    fact a plugin added, a message quoting a variable, or a path holding `user:pass@`.
    """
    suites = [Suite(s.name, [replace(c, message=redact_url(c.message), facts=scrub(c.facts),
                                     detail=redact_url(c.detail)) for c in s.cases], scrub(s.properties))
              for s in result.suites]
    return RunResult(suites, scrub(result.context), scrub(result.expected), scrub(result.timings),
                     result.exit_status)


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Mapping):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value
