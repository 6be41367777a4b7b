"""Running the suite on a lab's inventory, as an operator does, and reading its reports.

Every run writes the suite's JUnit and JSON reports and pytest's own --junitxml; both JUnit files are
validated against the JUnit schema (tests/data/junit/junit-10.xsd) before anything is read from them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from tests.report_files import json_report, validate_junit

REPO = Path(__file__).resolve().parents[2]
OUTCOMES = {"pass": "passed", "fail": "failure", "error": "error", "skip": "skipped"}


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    junit: Path  # --report-junit
    json: Path  # --report-json
    pytest_junit: Path  # pytest's own --junitxml

    @property
    def report(self) -> dict:
        return json_report(self.json)

    def outcomes(self) -> dict[str, tuple[str, str]]:
        """{test name, e.g. "test_image[node1::calico_cni]": (passed | failure | error | skipped, message)}.

        The message is the verdict's, for a pass too (which digest, which endpoint...).
        """
        return {case["test"].split("::", 1)[1]: (OUTCOMES[case["verdict"]], case["message"])
                for suite in self.report["suites"].values() for case in suite["cases"]}


def run_reports(lab, tmp_path: Path, *args: str, extra_vars: Optional[dict] = None, check: bool = False) -> SuiteRun:
    """`pytest --inventory=<lab> --kubespray-dir=<lab's> [args]` with every report written under `tmp_path`.

    Each run writes its own reports (and extra-vars file); the expected-state cache is `tmp_path/cache`.
    With `check`, the run must exit 0.
    """
    n = len(list(tmp_path.glob("report-*.json")))
    run = SuiteRun(0, "", "", tmp_path / f"report-{n}.xml", tmp_path / f"report-{n}.json", tmp_path / f"pytest-{n}.xml")
    options = []
    if extra_vars:
        path = tmp_path / f"vars-{n}.yml"
        path.write_text(yaml.safe_dump(extra_vars))
        options.append(f"--extra-vars=@{path}")
    env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", f"--inventory={lab.inventory_dir / 'hosts.yml'}",
         f"--kubespray-dir={lab.kubespray_dir}", f"--report-junit={run.junit}", f"--report-json={run.json}",
         f"--junitxml={run.pytest_junit}", "-p", "no:cacheprovider", "-q", *options, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    run.returncode, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    assert run.json.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    validate_junit(run.junit)
    validate_junit(run.pytest_junit)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run


def run_suite(lab, tmp_path: Path, *args: str, extra_vars: Optional[dict] = None, check: bool = False):
    """`run_reports`, read as {test name: (outcome, message)} and the run's stdout."""
    run = run_reports(lab, tmp_path, *args, extra_vars=extra_vars, check=check)
    return run.outcomes(), run.stdout


def junit_outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """pytest's own --junitxml, validated, as {test name: (passed | failure | error | skipped, message)}."""
    validate_junit(report)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcomes[case.get("name", "")] = (kind, element.get("message", "") + (element.text or ""))
                break
        else:
            outcomes[case.get("name", "")] = ("passed", "")
    return outcomes


def sessions(lab) -> dict[str, int]:
    """SSH connections each node's sshd has accepted so far (its log)."""
    logs = lab.layout.logs_dir
    return {n.name: (logs / f"{n.name}-sshd.log").read_text().count("Accepted publickey") for n in lab.nodes}
