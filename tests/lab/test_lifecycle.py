"""Bringing labs up and down, also after a killed `lab up`, leaves no process, namespace, link or mount."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubespray_verify.lab import netns, processes
from kubespray_verify.lab.cleanup import teardown
from kubespray_verify.lab.layout import lab_home
from tests.kubespray_fixtures import kubespray_dir
from tests.lab.start import start_lab

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
KILL_TIMEOUT = 60.0


def leftovers(prefix: str, pids: list[int]) -> dict:
    """Everything of lab `prefix` still on the machine (empty lists when it is gone)."""
    home = str(lab_home(prefix))
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines()
              if home in line or f"/run/netns/{prefix}-" in line]
    return {
        "namespaces": [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                       if n.startswith(prefix + "-")],
        "links": netns.lab_links(prefix),
        "mounts": mounts,
        "pids": [p for p in pids if processes.start_time(p) is not None],
        "home": os.path.exists(home),
    }


NOTHING = {"namespaces": [], "links": [], "mounts": [], "pids": [], "home": False}


def test_up_twice_then_down_twice_leaves_nothing_and_spares_other_labs(lab):
    prefix = f"kv{os.getpid()}b"
    first = start_lab(prefix, nodes=1, runtimes=("containerd",))
    first_pids = [r.pid for r in first.state.processes]
    second = start_lab(prefix, nodes=2, runtimes=("docker", "crio"))
    second_pids = [r.pid for r in second.state.processes]
    assert [p for p in first_pids if processes.start_time(p) is not None] == []
    assert second.down()
    assert not teardown(prefix)
    assert leftovers(prefix, first_pids + second_pids) == NOTHING
    assert all(processes.alive(r) for r in lab.state.processes)
    assert lab.layout.subnet != second.layout.subnet


def test_down_after_a_killed_up_leaves_nothing():
    prefix = f"kv{os.getpid()}k"
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUBESPRAY_DIR": str(kubespray_dir())}
    up = subprocess.Popen([sys.executable, "-m", "kubespray_verify", "lab", "up", "--prefix", prefix,
                           "--nodes", "2"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = lab_home(prefix) / "state.json"
    deadline = time.monotonic() + KILL_TIMEOUT
    recorded: list = []
    # Kill it midway: once both nodes' sshd run, before the mirrors are filled and the nodes deployed.
    while time.monotonic() < deadline and sum(r["role"].endswith("/sshd") for r in recorded) < 2:
        time.sleep(0.02)
        try:
            recorded = json.loads(state_file.read_text())["processes"]
        except (OSError, ValueError):
            recorded = []
    os.kill(up.pid, signal.SIGKILL)
    up.wait()
    pids = [r["pid"] for r in recorded] + [p for ns in netns.lab_namespaces(prefix) for p in netns.namespace_pids(ns)]
    state = json.loads(state_file.read_text())
    assert state["phase"] == "starting" and pids
    down = subprocess.run([sys.executable, "-m", "kubespray_verify", "lab", "down", "--prefix", prefix],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert leftovers(prefix, pids) == NOTHING
