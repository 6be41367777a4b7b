"""`pytest --inventory hosts.yml` as operators write it runs the suite's checks against the lab, from
the inventory's directory, from / and from the Kubespray checkout, with the same verdicts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.lab.suite_run import junit_outcomes

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("where", ["absolute from /", "relative from the inventory's directory",
                                   "absolute from the Kubespray checkout"])
def test_pytest_inventory_runs_the_checks_from_anywhere(lab, tmp_path, where):
    inventory = lab.inventory_dir / "hosts.yml"
    cwd, path = {"absolute from /": ("/", str(inventory)),
                 "relative from the inventory's directory": (str(lab.inventory_dir), "hosts.yml"),
                 "absolute from the Kubespray checkout": (str(lab.kubespray_dir), str(inventory))}[where]
    reports = {}
    for spelling, args in (("as written", ["--inventory", path]), ("with =", [f"--inventory={path}"])):
        report = tmp_path / f"{spelling.replace(' ', '-')}.xml"
        env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"), KUBESPRAY_DIR=str(lab.kubespray_dir))
        proc = subprocess.run([sys.executable, "-m", "pytest", *args, "-m", "images or files",
                               f"--junitxml={report}", "-q", "-p", "no:cacheprovider"],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Traceback" not in proc.stdout + proc.stderr
        reports[spelling] = {name: outcome for name, (outcome, _) in junit_outcomes(report).items()}
    assert reports["as written"] == reports["with ="]  # the same tests, the same verdicts
    images = {name: outcome for name, outcome in reports["as written"].items() if name.startswith("test_image[")}
    assert {n.split("::")[0] for n in images} == {"test_image[node1", "test_image[node2", "test_image[node3"}
    assert "passed" in set(images.values())
