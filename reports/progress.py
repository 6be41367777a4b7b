"""Progress of a long phase on the operator's terminal: one line, rewritten in place, gone when done.

    observing nodes: 12/40

Written to the controlling terminal (/dev/tty) and only when the run's output is a terminal: a CI
log, a file or a pipe gets none of it, and the reports never do. Pytest captures the output of
checks and xdist workers have no terminal of their own; the terminal itself is reached from both.
Thread-safe (nodes answer from a thread pool); at most one rewrite every `interval` seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, TextIO

TERMINAL = "/dev/tty"
INTERVAL = 0.1


class Progress:
    def __init__(self, stream: Optional[TextIO], label: str, total: int, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic, owned: bool = False):
        self.stream = stream
        self.owned = owned  # opened for this progress: closed with it
        self.label = label
        self.total = total
        self.done = 0
        self.interval = interval
        self.clock = clock
        self._shown = 0.0
        self._lock = threading.Lock()
        self._drawn = False

    def update(self, done: int, total: Optional[int] = None, label: Optional[str] = None) -> None:
        with self._lock:
            self.done = done
            self.total = self.total if total is None else total
            self.label = self.label if label is None else label
            now = self.clock()
            if self.stream is None or (self._drawn and now - self._shown < self.interval and done < self.total):
                return
            self._shown = now
            self._write(f"\r{self.label}: {self.done}/{self.total}\x1b[K")
            self._drawn = True

    def advance(self, step: int = 1) -> None:
        self.update(self.done + step)

    def close(self) -> None:
        with self._lock:
            if self.stream is not None and self._drawn:
                self._write("\r\x1b[K")
            self._drawn = False
            if self.owned and self.stream is not None:
                self.stream.close()
                self.stream = None

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:  # the terminal went away: the run goes on without progress
            self.stream = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def on_terminal(enabled: bool, label: str, total: int) -> Progress:
    """A Progress on the controlling terminal when `enabled` (the run's output is one), else a silent one."""
    stream = None
    if enabled:
        try:
            stream = open(TERMINAL, "w")
        except OSError:  # no controlling terminal (a CI runner, a daemon): no progress
            stream = None
    return Progress(stream, label, total, owned=True)
