"""The suite's node checks on the lab: every drift kind gives exactly the expected verdict on exactly the
drifted items, on containerd, docker and cri-o (containers-storage) nodes; a clean lab passes everything;
an unreachable node errors on each of its items and nowhere else."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.lab.suite_run import run_suite

pytestmark = pytest.mark.lab

NODES = ("node1", "node2", "node3")

# (drift kind, item, outcome of that item's check). Digests are pinned for the image items marked so.
DRIFTS = (
    ("image-missing", "calico_cni", "failure"),
    ("image-other-digest", "pod_infra", "failure"),
    ("image-mirror-name", "coredns", "failure"),
    ("image-extra-names", "nodelocaldns", "passed"),
    ("image-from-tarball", "calico_node", "passed"),
    ("file-missing", "cni", "failure"),
    ("file-corrupted", "kubeadm", "failure"),
    ("file-wrong-mode", "crictl", "failure"),
)
PINNED = ("pod_infra", "nodelocaldns", "calico_node")
# What the verdict says, so a failure for the wrong reason does not count.
SAYS = {
    "calico_cni": "missing",
    "pod_infra": "digest",
    "coredns": "missing",
    "cni": "missing",
    "kubeadm": "checksum",
    "crictl": "mode",
}


def run_checks(lab, tmp_path: Path, *extra: str) -> dict[str, tuple[str, str]]:
    """The image and file checks on the lab, with the PINNED items' digests pinned."""
    pins = {}
    for name in PINNED:
        item = lab.expected.hosts["node1"].item(name)
        record = lab.images[item.repo[len(lab.registry.host) + 1:] + ":" + item.tag]
        pins[f"{name}_digest_checksum"] = record.digest
    outcomes, _ = run_suite(lab, tmp_path, "-m", "images or files", *extra, extra_vars=pins)
    return outcomes


def check_ids(lab) -> dict[str, str]:
    """Every check the suite runs on the lab: test id → item name."""
    ids = {}
    for host, exp in lab.expected.hosts.items():
        for item in exp.items:
            test = "test_image" if item.kind == "image" else "test_file"
            ids[f"{test}[{host}::{item.name}]"] = item.name
    return ids


def test_clean_lab_passes_every_check(lab, tmp_path):
    outcomes = run_checks(lab, tmp_path)
    checks = check_ids(lab)
    assert set(checks) <= set(outcomes)
    assert {t: o for t, o in outcomes.items() if o[0] != "passed"} == {}


@pytest.fixture
def drifted(lab):
    for node in NODES:
        for kind, item, _ in DRIFTS:
            assert lab.expected.hosts[node].item(item) is not None, f"{item} does not apply to {node}"
            lab.drift(node, kind, item)
    yield lab
    lab.heal()


def test_each_drift_gives_its_verdict_on_exactly_the_drifted_items(drifted, tmp_path):
    outcomes = run_checks(drifted, tmp_path)
    expected = {test_id: "passed" for test_id in check_ids(drifted)}
    for node in NODES:
        for _, item, outcome in DRIFTS:
            test = "test_image" if drifted.expected.hosts[node].item(item).kind == "image" else "test_file"
            expected[f"{test}[{node}::{item}]"] = outcome
    got = {t: outcomes[t][0] for t in expected}
    assert got == expected
    for node in NODES:
        for item, phrase in SAYS.items():
            test = "test_image" if drifted.expected.hosts[node].item(item).kind == "image" else "test_file"
            outcome, message = outcomes[f"{test}[{node}::{item}]"]
            assert phrase in message, (node, item, message)
    # The installed copies in bin_dir were not touched by the drift: they still pass.
    assert outcomes.get("test_installed_binary[node1::kubeadm]", ("passed",))[0] == "passed"


def test_unreachable_node_errors_on_each_of_its_items_only(lab, tmp_path):
    lab.drift("node3", "node-unreachable")
    try:
        outcomes = run_checks(lab, tmp_path, "--connect-timeout=3")
    finally:
        lab.heal("node3")
    for test_id, item in check_ids(lab).items():
        outcome, message = outcomes[test_id]
        if "[node3::" in test_id:
            assert outcome == "error", test_id
            assert "node3" in message and "unreachable" in message, message
        else:
            assert outcome == "passed", (test_id, message)


def test_unchanged_files_are_not_read_again_a_corrupted_one_is(lab, tmp_path):
    """A second run reuses the first run's checksums (same cache); a byte changed in place, size and mtime
    put back, is read again and caught; --rehash reads everything."""
    time.sleep(2.1)  # the lab's files are older than the probe's settling time
    file_ids = {t: i for t, i in check_ids(lab).items() if t.startswith("test_file[")}
    first = run_checks(lab, tmp_path)
    assert all(first[t][0] == "passed" and "earlier run" not in first[t][1] for t in file_ids)
    second = run_checks(lab, tmp_path)
    assert all(second[t][0] == "passed" and "read by an earlier run" in second[t][1] for t in file_ids), second

    lab.drift("node2", "file-corrupted", "kubeadm")
    try:
        third = run_checks(lab, tmp_path)
        rehashed = run_checks(lab, tmp_path, "--rehash")
    finally:
        lab.heal("node2")
    outcome, message = third["test_file[node2::kubeadm]"]
    assert outcome == "failure" and "checksum expected" in message and "earlier run" not in message, message
    assert {t: o for t, o in third.items() if o[0] != "passed" and t in file_ids} == {
        "test_file[node2::kubeadm]": third["test_file[node2::kubeadm]"]}
    assert "read by an earlier run" in third["test_file[node1::kubeadm]"][1]
    assert rehashed["test_file[node2::kubeadm]"][0] == "failure"
    assert all("earlier run" not in rehashed[t][1] for t in file_ids)


def test_the_probe_runs_under_the_inventorys_python(lab, tmp_path):
    """ansible_python_interpreter is the node's Python for the probe too: one that is there passes
    everything, one that is not errors every check naming it (and passes none)."""
    checks = check_ids(lab)
    named, _ = run_suite(lab, tmp_path, "-m", "images or files",
                         extra_vars={"ansible_python_interpreter": "/usr/bin/python3.11"})
    assert {t: named[t] for t in checks if named[t][0] != "passed"} == {}
    missing, _ = run_suite(lab, tmp_path, "-m", "images or files",
                           extra_vars={"ansible_python_interpreter": "/opt/bin/python"})
    for test_id in checks:
        outcome, message = missing[test_id]
        assert outcome == "error" and "probe failed" in message and "/opt/bin/python" in message, (test_id, message)
