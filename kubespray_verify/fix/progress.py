"""Progress of long transfers on a terminal (bytes, rate), and the per-node summary at the end.

Off when the output is not a terminal: a CI log gets the summary only.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TextIO

REFRESH = 0.25  # seconds between two progress lines of one transfer
SHOW_AFTER = 1.0  # a transfer shorter than this shows no progress line


def human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class Progress:
    def __init__(self, stream: Optional[TextIO] = None, enabled: Optional[bool] = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._lock = threading.Lock()
        self._shown = False

    @contextmanager
    def transfer(self, label: str) -> Iterator[Callable[[int], None]]:
        started = time.monotonic()
        state = {"bytes": 0, "last": 0.0}

        def count(n: int) -> None:
            state["bytes"] += n
            now = time.monotonic()
            if self.enabled and now - started >= SHOW_AFTER and now - state["last"] >= REFRESH:
                state["last"] = now
                self._line(f"{label}: {human(state['bytes'])}, {human(state['bytes'] / (now - started))}/s")
        yield count
        elapsed = time.monotonic() - started
        if self.enabled and elapsed >= SHOW_AFTER:
            self._line(f"{label}: {human(state['bytes'])} in {elapsed:.1f} s", end=True)

    def _line(self, text: str, end: bool = False) -> None:
        with self._lock:
            self.stream.write("\r\x1b[K" + text + ("\n" if end else ""))
            self.stream.flush()
            self._shown = not end

    def finish(self) -> None:
        if self._shown:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()
                self._shown = False


def summary(counts: dict) -> list[str]:
    """One line per node: "node2: 2 pulled, 1 downloaded, 1 corrected"."""
    order = ("pulled", "pushed", "tagged", "downloaded", "copied", "corrected", "failed")
    lines = []
    for host in sorted(counts):
        per = counts[host]
        parts = [f"{per[k]} {k}" for k in order if per.get(k)]
        lines.append(f"{host}: {', '.join(parts)}")
    return lines
