"""Running test code where a name lookup cannot send anything off this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def in_empty_network_namespace(code: str) -> str:
    """Run `code` in a new network namespace with no interface up: a name lookup fails there without a
    packet leaving (the machine's resolver is outside 127.0.0.0/8). Returns what the code prints."""
    prologue = "import sys; sys.path.insert(0, %r)\n" % str(REPO)
    proc = subprocess.run(["unshare", "--net", sys.executable, "-c", prologue + code],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()
