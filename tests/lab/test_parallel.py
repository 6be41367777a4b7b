"""Under `pytest -n`, every node is still probed once per run (one SSH session each), the verdicts are the
same as in one process, and no report is written by a worker."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


def sessions(lab) -> dict[str, int]:
    """SSH sessions each node's sshd has accepted so far (its log)."""
    logs = lab.layout.logs_dir
    return {n.name: (logs / f"{n.name}-sshd.log").read_text().count("Accepted publickey") for n in lab.nodes}


def run(lab, tmp_path, *extra):
    report = tmp_path / "report.xml"
    env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", f"--inventory={lab.inventory_dir / 'hosts.yml'}",
         f"--kubespray-dir={lab.kubespray_dir}", "-m", "images or files", f"--junitxml={report}",
         "-p", "no:cacheprovider", "-q", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    cases = {c.get("name"): [e.tag for e in c] for c in ET.parse(report).getroot().iter("testcase")}
    return cases


@pytest.mark.parametrize("workers", ["0", "2"])
def test_each_node_is_probed_once_whatever_the_workers(lab, tmp_path, workers):
    before = sessions(lab)
    cases = run(lab, tmp_path, "-n", workers)
    after = sessions(lab)
    assert {n: after[n] - before[n] for n in after} == {n: 1 for n in after}
    assert cases and all(outcome == [] for outcome in cases.values())
    expected = sum(len(h.items) for h in lab.expected.hosts.values())
    assert len([c for c in cases if c.startswith(("test_image[", "test_file["))]) == expected
