"""One `--fix` at a time per inventory: a lock file under the suite's cache, naming who holds it.

The lock is an flock on a file named after the inventory (its resolved paths), so it is let go when
its holder exits, however it exits. The second run is told the holder's PID, user, host, start time
and command.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Sequence

from kubespray_verify.cache import cache_root
from kubespray_verify.errors import VerifyError


class FixLocked(VerifyError):
    pass


def lock_path(inventory: Sequence[str]) -> Path:
    key = "\n".join(sorted(str(Path(p).resolve()) for p in inventory))
    return cache_root() / "fix-locks" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")


class FixLock:
    def __init__(self, inventory: Sequence[str]):
        self.inventory = list(inventory)
        self.path = lock_path(inventory)
        self._fd = None

    def __enter__(self) -> "FixLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise VerifyError(f"--fix: cannot create its lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise FixLocked(f"--fix: another --fix run holds the lock on inventory {', '.join(self.inventory)}: "
                            f"{_describe(holder)} (lock {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "user": getpass.getuser(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "a run that has not said who it is yet"
    # Not its command line: an --extra-vars value may be a secret.
    return f"PID {holder.get('pid')} of {holder.get('user')}@{holder.get('host')}, since {holder.get('since')}"
