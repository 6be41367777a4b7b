"""The suite's private cache files: where they live, written atomically, a cache that cannot be written said once.

Used by the expected-state cache (`resolve/cache.py`), the kept connection variables and the
nodes' checksum memo (`nodes/checksum_memo.py`). Standard library only; imports nothing of the suite.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path


def cache_root() -> Path:
    """The suite's cache: $KUBESPRAY_VERIFY_CACHE, else $XDG_CACHE_HOME or ~/.cache, /kubespray-verify."""
    base = os.environ.get("KUBESPRAY_VERIFY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubespray-verify"
    )
    return Path(base)


_WARNED: set = set()


def not_kept(directory: Path, exc: OSError) -> None:
    """The cache cannot be written: the run goes on without it, and says so once."""
    if str(directory) in _WARNED:
        return
    _WARNED.add(str(directory))
    warnings.warn(f"kubespray-verify: cache {directory} not usable ({exc.strerror or exc}); "
                  f"nothing is kept for the next run (set KUBESPRAY_VERIFY_CACHE to a writable directory)",
                  stacklevel=3)


def keep(path: Path, text: str) -> None:
    """Write a cache file (its directory private to the user, the file replaced atomically); a cache
    that cannot be written is done without, and said once."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(path, text)
    except OSError as exc:
        not_kept(path.parent, exc)


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
