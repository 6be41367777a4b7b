"""`pytest --inventory …` collects one test per host and applicable item, ids like `node1::kubeadm`,
however the inventory path is written and wherever the command runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubespray_verify.resolve.expected import resolve
from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, write_inventory

REPO = Path(__file__).resolve().parents[1]


def run(args, cwd, tmp_path):
    env = dict(os.environ, KUBESPRAY_DIR=str(kubespray_dir()), KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def expected_ids(inventory) -> set[str]:
    state = resolve([str(inventory)], str(kubespray_dir()))
    ids = set()
    for host, exp in state.hosts.items():
        for item in exp.items:
            test = "test_images.py::test_image" if item.kind == "image" else "test_files.py::test_file"
            ids.add(f"checks/{test}[{host}::{item.name}]")
    return ids


def collected(proc) -> set[str]:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.strip().split(" ")[0] for line in proc.stdout.splitlines()
            if "checks/test_images.py::" in line or "checks/test_files.py::test_file[" in line}


def test_collects_one_test_per_host_and_item_with_an_absolute_inventory_path(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    proc = run([sys.executable, "-m", "pytest", f"--inventory={inventory}", "--collect-only", "-q",
                "-p", "no:cacheprovider"], REPO, tmp_path)
    assert collected(proc) == expected_ids(inventory)
    assert "checks/test_files.py::test_file[node1::kubeadm]" in proc.stdout


def test_check_command_runs_from_any_directory(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    proc = run([sys.executable, "-m", "kubespray_verify", "check", "--inventory", str(inventory),
                "--collect-only", "-q"], tmp_path, tmp_path)
    names = {line.split("::", 1)[1] for line in collected_any(proc)}
    assert names == {i.split("::", 1)[1] for i in expected_ids(inventory)}


def collected_any(proc) -> set[str]:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.strip() for line in proc.stdout.splitlines()
            if "test_images.py::" in line or "test_files.py::test_file[" in line}


@pytest.mark.parametrize("where", ["suite", "inventory", "root", "kubespray", "elsewhere"])
@pytest.mark.parametrize("spelling", ["separate", "equals", "relative"])
def test_pytest_inventory_as_written_collects_the_suite_from_any_directory(tmp_path, where, spelling):
    """`pytest --inventory hosts.yml`, the value a separate word, from the suite's directory, the
    inventory's, /, the Kubespray checkout and another directory: the same tests, named the same."""
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    cwd = {"suite": REPO, "inventory": inventory.parent, "root": Path("/"), "kubespray": kubespray_dir(),
           "elsewhere": tmp_path}[where]
    path = os.path.relpath(inventory, cwd) if spelling == "relative" else str(inventory)
    given = [f"--inventory={path}"] if spelling == "equals" else ["--inventory", path]
    proc = run([sys.executable, "-m", "pytest", *given, "--collect-only", "-q", "-p", "no:cacheprovider"],
               cwd, tmp_path)
    assert collected(proc) == expected_ids(inventory)
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_test_path_beside_the_inventory_means_what_pytest_means(tmp_path):
    """A test path given with `--inventory` is what runs: only the image checks here."""
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    proc = run([sys.executable, "-m", "pytest", "--inventory", str(inventory), str(REPO / "checks" / "test_images.py"),
                "--collect-only", "-q", "-p", "no:cacheprovider"], Path("/"), tmp_path)
    assert collected(proc) == {i for i in expected_ids(inventory) if "test_image[" in i}


def test_a_pytest_run_without_an_inventory_does_not_bring_the_suite(tmp_path):
    """The installed plugin is inert in other projects' pytest runs: their tests, not the suite's."""
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)], tmp_path, tmp_path)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_a_count_or_timeout_below_one_is_refused_naming_the_option(tmp_path):
    inventory = write_inventory(tmp_path / "inv", THREE_NODES["hosts"], THREE_NODES["groups"])
    for option, says in (("--node-concurrency=0", "must be 1 or more, not 0"),
                         ("--mirror-concurrency=-2", "must be 1 or more, not -2"),
                         ("--connect-timeout=ten", "not a whole number: 'ten'")):
        proc = run([sys.executable, "-m", "pytest", f"--inventory={inventory}", option, "--collect-only", "-q",
                    "-p", "no:cacheprovider"], REPO, tmp_path)
        assert proc.returncode == 4, proc.stdout[-2000:]
        assert f"argument {option.split('=')[0]}: {says}" in proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
