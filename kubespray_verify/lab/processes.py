"""Running commands and long-lived daemons, and stopping them by the PIDs recorded.

A PID alone is not an identity: after a reboot or a long time it may belong to
another program. Each record keeps the process start time from
/proc/PID/stat, and a process is only signalled when both still match.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from kubespray_verify.lab.errors import CommandError, LabError

COMMAND_TIMEOUT = 120.0  # seconds for one command (a pull, an apt-get install is longer: see deps)
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
READY_TIMEOUT = 20.0  # seconds a daemon has to become ready


@dataclass(frozen=True)
class ProcessRecord:
    role: str  # "hub/registry", "node1/containerd"...
    pid: int
    start_time: int  # /proc/PID/stat field 22 (clock ticks after boot)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ProcessRecord":
        return cls(**data)


def run(argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT, check: bool = True,
        input: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command to completion; on failure raise CommandError naming it, with its stderr."""
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout, env=env)
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is not installed (run `kubespray-verify lab deps`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"`{_show(argv)}` did not finish within {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        err = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        raise CommandError(f"`{_show(argv)}` failed (exit {proc.returncode}): {err[-1] if err else 'no output'}")
    return proc


def start(role: str, argv: Sequence[str], log: Path, env: dict | None = None) -> tuple[ProcessRecord, subprocess.Popen]:
    """Start a daemon in its own session, output to `log`; return its record."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, env=env)
        except FileNotFoundError as exc:
            raise LabError(f"{argv[0]} is not installed (run `kubespray-verify lab deps`)") from exc
    return ProcessRecord(role, proc.pid, start_time(proc.pid) or 0), proc


def start_time(pid: int) -> int | None:
    """The process's start time, or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(record: ProcessRecord) -> bool:
    return start_time(record.pid) == record.start_time


def stop(records: Iterable[ProcessRecord], grace: float = STOP_GRACE) -> list[ProcessRecord]:
    """SIGTERM every recorded process still alive, SIGKILL what remains after `grace`; return those signalled."""
    targets = [r for r in records if alive(r)]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        for r in targets:
            if alive(r):
                _signal(r.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_reap(r) for r in targets):
            time.sleep(0.05)
        if not any(alive(r) for r in targets):
            break
    left = [r for r in targets if alive(r)]
    if left:
        raise LabError("could not stop " + ", ".join(f"{r.role} (pid {r.pid})" for r in left))
    return targets


def record_of(role: str, pid: int) -> ProcessRecord | None:
    """A record for a live process found by discovery (e.g. a PID listed in one of the lab's namespaces)."""
    started = start_time(pid)
    return ProcessRecord(role, pid, started) if started is not None else None


def wait_until(what: str, ready, timeout: float = READY_TIMEOUT, interval: float = 0.05,
               dead: ProcessRecord | None = None, log: Path | None = None):
    """Poll `ready()` until it returns a true value; fail naming `what` (and the log) on timeout or early death."""
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        if dead is not None and not alive(dead):
            raise LabError(f"{what} exited before it was ready{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise LabError(f"{what} was not ready within {timeout:.0f} s{_log_tail(log)}")
        time.sleep(interval)


def listening(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def _reap(record: ProcessRecord) -> bool:
    """Collect the exit status of our own children (so they do not linger as zombies); True while alive."""
    try:
        os.waitpid(record.pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return alive(record)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _log_tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return f" ({log}: {lines[-1].strip()[:300]})" if lines else f" ({log} is empty)"


def _show(argv: Sequence[str]) -> str:
    return " ".join(str(a) for a in argv)[:200]
