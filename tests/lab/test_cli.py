"""`kubespray-verify lab ...`: bad input gives one line naming the thing at fault, exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubespray_verify", "lab", *args], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)


@pytest.mark.parametrize("args, named", [
    (("up", "--prefix", "Bad_Prefix"), "'Bad_Prefix'"),
    (("up", "--prefix", "kvbad", "--runtimes", "containerd,rkt"), "'rkt'"),
    (("up", "--prefix", "kvbad", "--nodes", "0"), "--nodes 0"),
    (("down", "--prefix", "waytoolongprefix"), "'waytoolongprefix'"),
    (("drift", "--prefix", "kvnotup", "node1", "file-missing", "kubeadm"), "kvnotup"),
], ids=["prefix", "runtime", "nodes", "long-prefix", "lab-not-up"])
def test_bad_input_is_one_line_naming_it(args, named):
    result = cli(*args)
    assert (result.returncode, len(result.stderr.splitlines())) == (2, 1)
    assert named in result.stderr


@pytest.mark.lab
@pytest.mark.parametrize("args, named", [
    (("node9", "file-missing", "kubeadm"), "'node9'"),
    (("node1", "file-gone", "kubeadm"), "'file-gone'"),
    (("node1", "file-missing", "nosuchitem"), "'nosuchitem'"),
    (("node3", "file-missing", "kubectl"), "'kubectl'"),  # kubectl is for kube_control_plane only
    (("node1", "image-missing"), "image item"),
], ids=["node", "kind", "item", "item-not-on-node", "item-needed"])
def test_bad_drift_is_one_line_naming_it(lab, args, named):
    result = cli("drift", "--prefix", lab.prefix, *args)
    assert (result.returncode, len(result.stderr.splitlines())) == (2, 1)
    assert named in result.stderr


@pytest.mark.lab
def test_status_lists_mirrors_and_nodes(lab):
    result = cli("status", "--prefix", lab.prefix)
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["hub"] * 3 + ["node1", "node2", "node3"]
