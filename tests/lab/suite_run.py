"""Running the suite on a lab's inventory, as an operator does, and reading its JUnit report."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

import yaml

REPO = Path(__file__).resolve().parents[2]


def run_suite(lab, tmp_path: Path, *args: str, extra_vars: Optional[dict] = None, check: bool = False):
    """`pytest --inventory=<lab> --kubespray-dir=<lab's> [args]` → (JUnit outcomes, the run's stdout).

    Each run writes its own report (and extra-vars file) under `tmp_path`; the expected-state cache is
    `tmp_path/cache`. With `check`, the run must exit 0.
    """
    n = len(list(tmp_path.glob("report-*.xml")))
    report = tmp_path / f"report-{n}.xml"
    options = []
    if extra_vars:
        path = tmp_path / f"vars-{n}.yml"
        path.write_text(yaml.safe_dump(extra_vars))
        options.append(f"--extra-vars=@{path}")
    env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", f"--inventory={lab.inventory_dir / 'hosts.yml'}",
         f"--kubespray-dir={lab.kubespray_dir}", f"--junitxml={report}", "-p", "no:cacheprovider", "-q",
         *options, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return junit_outcomes(report), proc.stdout


def junit_outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """{test name, e.g. "test_image[node1::calico_cni]": (passed | failure | error | skipped, message)}.

    A pass's message is its `verdict` property when the check recorded one.
    """
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcomes[case.get("name", "")] = (kind, element.get("message", "") + (element.text or ""))
                break
        else:
            verdict = case.find("properties/property[@name='verdict']")
            outcomes[case.get("name", "")] = ("passed", verdict.get("value", "") if verdict is not None else "")
    return outcomes


def sessions(lab) -> dict[str, int]:
    """SSH connections each node's sshd has accepted so far (its log)."""
    logs = lab.layout.logs_dir
    return {n.name: (logs / f"{n.name}-sshd.log").read_text().count("Accepted publickey") for n in lab.nodes}
