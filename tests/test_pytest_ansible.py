"""The suite starts and reads its options when pytest-ansible (which also defines --inventory and --limit)
is installed beside it. pytest-ansible is installed into a throw-away virtualenv from wheels that
.ci/run downloads (KUBESPRAY_VERIFY_WHEELS)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, write_inventory

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def python_with_pytest_ansible(tmp_path_factory) -> str:
    wheels = os.environ.get("KUBESPRAY_VERIFY_WHEELS")
    if not wheels or not Path(wheels, "pytest-ansible").is_dir():
        reason = "no pytest-ansible wheels (set KUBESPRAY_VERIFY_WHEELS, as .ci/run does)"
        if os.environ.get("KUBESPRAY_VERIFY_REQUIRE_LAB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--find-links",
                    str(Path(wheels, "pytest-ansible")), "pytest-ansible"], check=True, capture_output=True)
    return python


def collect(python: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KUBESPRAY_DIR=str(kubespray_dir()), KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    return subprocess.run([python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("spelling", [("--inventory={inv}", "--limit=node3"),
                                      ("--kubespray-inventory={inv}", "--kubespray-limit=node3")])
def test_suite_starts_beside_pytest_ansible(python_with_pytest_ansible, tmp_path, spelling):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    check = subprocess.run([python_with_pytest_ansible, "-c", "import pytest_ansible"], capture_output=True)
    assert check.returncode == 0
    proc = collect(python_with_pytest_ansible, tmp_path, *(s.format(inv=inventory) for s in spelling))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = [line for line in proc.stdout.splitlines() if "test_files.py::" in line or "test_images.py::" in line]
    assert ids and all("node3" in line for line in ids)
    assert any(line.endswith("[node3::kubeadm]") for line in ids)
