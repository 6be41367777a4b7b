"""The reports on the lab, every check selected, with drift on several nodes: the terminal table, the JUnit
report and the JSON report agree with each other and with the drift, item by item, expected beside found;
`-n 2` writes the same reports; no credential of the inventory (URL userinfo, the authenticated registry's
password, a registry token) reaches any report or the terminal."""

from __future__ import annotations

import re

import pytest

from tests.lab.suite_run import run_reports
from tests.report_files import junit_suites, junit_without_times, summary_table, without_times

pytestmark = pytest.mark.lab

# node → (drift kind, item, kind of check). One image and one file drifted on each node, one per runtime.
DRIFTS = {
    "node1": (("image-missing", "calico_cni", "image"), ("file-corrupted", "kubeadm", "file")),
    "node2": (("image-other-digest", "pod_infra", "image"), ("file-wrong-mode", "crictl", "file")),
    "node3": (("image-mirror-name", "coredns", "image"), ("file-missing", "cni", "file")),
}
PINNED = ("pod_infra", "calico_node")
FILES_SECRET = "files-s3cret"
TOKEN = "kv-t0ken-header"


def pins(lab) -> dict:
    found = {}
    for name in PINNED:
        item = lab.expected.hosts["node1"].item(name)
        found[f"{name}_digest_checksum"] = lab.images[item.repo[len(lab.registry.host) + 1:] + ":" + item.tag].digest
    return found


def with_userinfo(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://kvuser:{FILES_SECRET}@{rest}"


@pytest.fixture(scope="module")
def drifted_runs(lab, tmp_path_factory):
    """The whole suite on the drifted lab, serially and with -n 2 (each with its own cache: neither reuses the
    other's checksums), the files_repo URL carrying credentials."""
    extra = {**pins(lab), "files_repo": with_userinfo(lab.registry.files_repo)}
    for node, drifts in DRIFTS.items():
        for kind, item, _ in drifts:
            lab.drift(node, kind, item)
    try:
        serial = run_reports(lab, tmp_path_factory.mktemp("serial"), extra_vars=extra)
        parallel = run_reports(lab, tmp_path_factory.mktemp("parallel"), "-n", "2", extra_vars=extra)
    finally:
        lab.heal()
    return serial, parallel


def expected_findings(lab) -> set[tuple[str, str, str]]:
    found = {(node, kind, item) for node, drifts in DRIFTS.items() for _, item, kind in drifts}
    return found | {("cluster", "lint", "pinned_digests_are_enforced_by_kubespray")}  # master pulls by tag


def test_the_table_junit_and_json_agree_with_each_other_and_with_the_drift(lab, drifted_runs):
    run, _ = drifted_runs
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    report = run.report
    suites = junit_suites(run.junit)
    table = summary_table(run.stdout)
    assert list(suites) == list(report["suites"]) == list(table) == ["node1", "node2", "node3", "runner", "cluster"]
    for name, suite in report["suites"].items():
        totals = suite["totals"]
        junit = suites[name]
        assert (junit["tests"], junit["failures"], junit["errors"], junit["skipped"]) == (
            sum(totals.values()), totals["fail"], totals["error"], totals["skip"])
        assert {k: table[name][k] for k in totals} == totals
        assert {key: said[:2] for key, said in junit["cases"].items()} == {
            (f"{name}.{c['kind']}", c["item"]): (c["verdict"], c["message"]) for c in suite["cases"]}
    # Exactly the drifted items fail, each on its node; nothing errors.
    findings = {(name, c["kind"], c["item"]) for name, s in report["suites"].items() for c in s["cases"]
                if c["verdict"] in ("fail", "error")}
    assert findings == expected_findings(lab)
    assert report["totals"]["error"] == 0 and report["suites"]["runner"]["totals"]["pass"] > 0
    # Each node's row names one of its drifted items as its worst finding.
    for node, drifts in DRIFTS.items():
        assert any(table[node]["worst"].startswith(f"{kind} {item}:") for _, item, kind in drifts), table[node]


def test_each_drift_reads_expected_beside_found(lab, drifted_runs):
    run, _ = drifted_runs
    cases = {(name, c["kind"], c["item"]): c for name, s in run.report["suites"].items() for c in s["cases"]}
    kubeadm = lab.expected.hosts["node1"].item("kubeadm")
    facts = cases[("node1", "file", "kubeadm")]["facts"]
    assert facts["expected"]["checksum"] == kubeadm.checksum and facts["found"]["checksum"] != kubeadm.checksum
    assert facts["found"]["size"] and facts["url"].startswith("http://***@")
    crictl = cases[("node2", "file", "crictl")]["facts"]
    assert crictl["expected"]["mode"] != crictl["found"]["mode"] and crictl["found"]["checksum"] == \
        crictl["expected"]["checksum"]
    assert cases[("node3", "file", "cni")]["facts"]["found"] == {"present": False}
    pod_infra = cases[("node2", "image", "pod_infra")]["facts"]
    assert pod_infra["expected"]["digest"] == pins(lab)["pod_infra_digest_checksum"]
    assert pins(lab)["pod_infra_digest_checksum"] not in pod_infra["found"]["digest"]
    assert pod_infra["runtime"].startswith("docker")
    coredns = cases[("node3", "image", "coredns")]
    assert coredns["facts"]["found"] == {"image": "missing"} and "present only as" in coredns["message"]
    assert cases[("node1", "image", "calico_node")]["verdict"] == "pass"  # pinned, not drifted
    lint = cases[("cluster", "lint", "pinned_digests_are_enforced_by_kubespray")]
    assert lint["facts"]["nodes"] == list(lab.expected.hosts)
    # The findings on the terminal: each drifted item once under its node, what differs side by side.
    out = run.stdout.split("failures and errors, by vantage point", 1)[1].split("\n", 1)[1]
    blocks = {b.split(":", 1)[0]: b for b in out.split("\n\n")}
    assert list(blocks) == ["node1", "node2", "node3", "cluster"]
    for node, drifts in DRIFTS.items():
        for _, item, kind in drifts:
            assert blocks[node].count(f"FAIL  {kind} {item}\n") == 1, blocks[node]
    # Two digests are too wide for one line of the log: one above the other.
    assert re.search(rf"checksum +expected {kubeadm.checksum}\s+found +{facts['found']['checksum']}\n",
                     blocks["node1"]), blocks["node1"]
    assert re.search(rf"mode +expected {crictl['expected']['mode']}  found {crictl['found']['mode']}\n",
                     blocks["node2"]), blocks["node2"]
    assert "= FAILURES =" not in run.stdout and "short test summary info" not in run.stdout


def test_with_two_workers_the_reports_are_those_of_a_serial_run(drifted_runs):
    serial, parallel = drifted_runs
    assert parallel.returncode == serial.returncode == 1
    assert junit_without_times(parallel.junit) == junit_without_times(serial.junit)
    assert without_times(parallel.report) == without_times(serial.report)
    assert summary_table(parallel.stdout) == summary_table(serial.stdout)


def test_no_credential_of_the_inventory_reaches_a_report(lab, tmp_path, drifted_runs):
    """The authenticated registry's password (the inventory's containerd mirrors, containerd_registry_auth),
    a token in a mirror's header, userinfo in files_repo: none in the reports, the terminal or pytest's JUnit."""
    reg = lab.registry
    mirrors = [{"prefix": reg.secure_host, "server": f"https://{reg.secure_host}",
                "mirrors": [{"host": f"https://{reg.secure_host}", "capabilities": ["pull", "resolve"],
                             "auth": {"username": reg.username, "password": reg.password},
                             "header": {"Authorization": f"Bearer {TOKEN}"}}]}]
    secure = run_reports(lab, tmp_path, "-m", "mirrors or lint", f"--registry-ca={reg.ca_file}", extra_vars={
        "registry_host": reg.secure_host, "files_repo": with_userinfo(reg.files_repo),
        "containerd_registries_mirrors": mirrors,
        "containerd_registry_auth": [{"registry": reg.secure_host, "username": reg.username,
                                      "password": reg.password}]})
    runner = {c["item"]: c for c in secure.report["suites"]["runner"]["cases"]}
    images = [c for label, c in runner.items() if label.startswith(f"registry:{reg.secure_host}/")]
    assert images and {c["verdict"] for c in images} == {"pass"}  # the credentials were used, and kept
    for run in (*drifted_runs, secure):
        texts = {"stdout": run.stdout, "stderr": run.stderr, "junit": run.junit.read_text(),
                 "json": run.json.read_text(), "pytest junit": run.pytest_junit.read_text()}
        for secret in (reg.password, FILES_SECRET, TOKEN):
            assert [where for where, text in texts.items() if secret in text] == [], secret
