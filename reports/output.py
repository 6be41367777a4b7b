"""Writing a report file: checked before the run starts, replaced atomically when it ends."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ReportPathError(ValueError):
    """A report cannot be written there (a directory, a parent that cannot be made or written)."""


def check_writable(path: str, option: str) -> Path:
    """The path a report will be written to, made absolute; ReportPathError naming `option` if it cannot be."""
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise ReportPathError(f"{option}={path}: is a directory, not a file")
    parent = target.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ReportPathError(f"{option}={path}: cannot write in {existing or parent}")
    if target.exists() and not os.access(target, os.W_OK):
        raise ReportPathError(f"{option}={path}: the file is not writable")
    return target


def write(path: Path, text: str) -> None:
    """Write `text` to `path` in one step: a reader sees the old file or the new one, never half of one.

    The file gets the mode a new file gets (the umask's), as pytest's own reports do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
