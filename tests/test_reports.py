"""The report writers on a result made by hand (pure): JUnit valid under the schema and read back as a CI
server reads it, the JSON schema, the terminal summary, credentials masked, a file written whole."""

from __future__ import annotations

import io
import json
import os

import pytest

from reports import json_report, junit, terminal
from reports.model import Case, Phase, RunResult, Suite, order_suites, scrubbed, settle
from reports.output import ReportPathError, check_writable, write
from reports.progress import Progress
from tests.report_files import junit_suites, validate_junit

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
PROPS = {"kubespray.version": "2.29.0", "kubespray.dir": "/srv/kubespray", "ansible_core": "2.18.1",
         "inventory": "/srv/inventory/hosts.yml"}


def result() -> RunResult:
    node1 = Suite("node1", [
        Case("node1", "image", "calico_node", "fail", f"calico_node r/calico/node:v3 on containerd: expected {A}",
             {"reference": "r/calico/node:v3", "expected": {"image": "r/calico/node:v3", "digest": A},
              "found": {"image": "r/calico/node:v3", "digest": B, "names": ["r/calico/node:v3"]}},
             "checks/test_images.py::test_image[node1::calico_node]", 0.0123456),
        Case("node1", "file", "kubeadm", "pass", "kubeadm /tmp/releases/kubeadm: checksum " + A,
             {"expected": {"checksum": A}, "found": {"checksum": A}}, "checks/test_files.py::test_file[node1::kubeadm]"),
        Case("node1", "installed_binary", "kubeadm", "skip", "node1: /usr/local/bin/kubeadm not installed yet"),
    ], {**PROPS, "runtime": "containerd", "architecture": "amd64"})
    node2 = Suite("node2", [
        Case("node2", "image", "calico_node", "error", "node2: unreachable: connection refused"),
        Case("node2", "file", "kubeadm", "error", "node2: unreachable: connection refused"),
    ], {**PROPS, "runtime": "docker"})
    cluster = Suite("cluster", [Case("cluster", "lint", "pinned_digests_are_enforced_by_kubespray", "fail",
                                     "Kubespray 2.29.0 pulls by tag", {"nodes": ["node1", "node2"]})], dict(PROPS))
    return RunResult([node1, node2, Suite("runner", [], dict(PROPS)), cluster],
                     {"kubespray_verify": "0.1.0", "kubespray": {"version": "2.29.0", "dir": "/srv/kubespray"},
                      "ansible_core": "2.18.1", "inventory": ["/srv/inventory/hosts.yml"], "limit": None},
                     {"hosts": {}}, {"session": 1.5}, 1)


# -- the model -------------------------------------------------------------------------------------


@pytest.mark.parametrize("phases, settled", [
    ([Phase("setup", "pass"), Phase("call", "pass", "holds it"), Phase("teardown", "pass")], ("pass", "holds it")),
    ([Phase("setup", "pass"), Phase("call", "fail", "missing"), Phase("teardown", "pass")], ("fail", "missing")),
    ([Phase("setup", "error", "unreachable"), Phase("teardown", "pass")], ("error", "unreachable")),
    ([Phase("setup", "fail", "fixture broke"), Phase("teardown", "pass")], ("error", "fixture broke")),
    ([Phase("setup", "skip", "not installed yet"), Phase("teardown", "pass")], ("skip", "not installed yet")),
    ([Phase("setup", "pass"), Phase("call", "pass", "ok"), Phase("teardown", "error", "cleanup broke")],
     ("error", "cleanup broke")),
    ([Phase("setup", "pass"), Phase("call", "fail", "missing"), Phase("teardown", "error", "cleanup broke")],
     ("fail", "missing")),
])
def test_a_check_settles_from_its_phases(phases, settled):
    assert settle(phases)[:2] == settled


def test_suites_in_inventory_order_each_node_even_without_checks_then_runner_then_cluster():
    suites = {"cluster": Suite("cluster"), "node2": Suite("node2"), "runner": Suite("runner"), "other": Suite("other")}
    assert [s.name for s in order_suites(suites, ["node1", "node2"])] == ["node1", "node2", "runner", "cluster",
                                                                         "other"]


def test_the_worst_finding_of_a_suite_is_its_first_failure_then_error_then_skip():
    node1, node2, runner, cluster = result().suites
    assert node1.worst.item == "calico_node" and node1.worst.verdict == "fail"
    assert node2.worst.verdict == "error"
    assert runner.worst is None
    assert Suite("x", [Case("x", "file", "a", "pass", ""), Case("x", "file", "b", "skip", "")]).worst.item == "b"


# -- JUnit -------------------------------------------------------------------------------------------


def test_junit_validates_and_reads_back_a_suite_per_vantage_point(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text(junit.to_xml(result()))
    suites = junit_suites(path)
    assert list(suites) == ["node1", "node2", "runner", "cluster"]
    node1 = suites["node1"]
    assert (node1["tests"], node1["failures"], node1["errors"], node1["skipped"]) == (3, 1, 0, 1)
    assert node1["properties"] == {**PROPS, "runtime": "containerd", "architecture": "amd64"}
    verdict, message, out = node1["cases"][("node1.image", "calico_node")]
    assert (verdict, message) == ("fail", f"calico_node r/calico/node:v3 on containerd: expected {A}")
    assert f"expected.digest: {A}" in out.splitlines() and f"found.digest: {B}" in out.splitlines()
    assert node1["cases"][("node1.file", "kubeadm")][:2] == ("pass", "kubeadm /tmp/releases/kubeadm: checksum " + A)
    assert node1["cases"][("node1.installed_binary", "kubeadm")][:2] == (
        "skip", "node1: /usr/local/bin/kubeadm not installed yet")
    assert {v for v, _, _ in suites["node2"]["cases"].values()} == {"error"}
    assert suites["node2"]["errors"] == 2 and suites["node2"]["failures"] == 0
    assert suites["runner"]["tests"] == 0
    assert suites["cluster"]["cases"][("cluster.lint", "pinned_digests_are_enforced_by_kubespray")][2] == \
        "nodes: node1, node2"


def test_junit_is_the_same_bytes_for_the_same_result_and_times_have_three_decimals():
    first, second = junit.to_xml(result()), junit.to_xml(result())
    assert first == second
    assert 'time="0.012"' in first and "disabled" not in first


def test_junit_drops_what_xml_cannot_hold_and_escapes_the_rest(tmp_path):
    case = Case("node1", "file", "odd", "error", "a <tag> & \x01 control \x1b[31mcolour", {"raw": "\x00x"})
    path = tmp_path / "report.xml"
    path.write_text(junit.to_xml(RunResult([Suite("node1", [case])])))
    validate_junit(path)
    assert junit_suites(path)["node1"]["cases"][("node1.file", "odd")][1] == "a <tag> &  control [31mcolour"


def test_facts_as_lines_nested_names_joined_with_dots():
    facts = {"expected": {"digest": A, "platforms": ["linux/amd64", "linux/arm64"]}, "found": {"digest": None},
             "present": False, "size": 7, "tried": [{"where": "x"}]}
    assert junit.facts_text(facts).splitlines() == [
        f"expected.digest: {A}", "expected.platforms: linux/amd64, linux/arm64", "found.digest: none",
        "present: false", "size: 7", 'tried: [{"where": "x"}]']


# -- JSON --------------------------------------------------------------------------------------------


def test_the_json_report_follows_schema_1():
    data = json.loads(json_report.dumps(result()))
    assert data["schema"] == 1
    assert set(data) >= {"schema", "kubespray", "ansible_core", "inventory", "totals", "expected", "suites",
                         "timings", "exit_status"}
    assert data["totals"] == {"pass": 1, "fail": 2, "error": 2, "skip": 1}
    assert list(data["suites"]) == ["node1", "node2", "runner", "cluster"]
    node1 = data["suites"]["node1"]
    assert node1["totals"] == {"pass": 1, "fail": 1, "error": 0, "skip": 1}
    first = node1["cases"][0]
    assert set(first) >= {"kind", "item", "verdict", "message", "facts"}
    assert (first["kind"], first["item"], first["verdict"], first["facts"]["found"]["digest"]) == (
        "image", "calico_node", "fail", B)
    assert first["test"] == "checks/test_images.py::test_image[node1::calico_node]" and first["seconds"] == 0.012


# -- credentials ---------------------------------------------------------------------------------------


def test_every_report_masks_userinfo_wherever_it_is():
    case = Case("node1", "file", "kubeadm", "fail", "from https://dl:s3cret@files.site/kubeadm: missing",
                {"url": "https://dl:s3cret@files.site/kubeadm", "fix": {"pushed": ["http://u:tok3n@reg/x"]}},
                detail="Traceback: GET https://dl:s3cret@files.site/kubeadm")
    masked = scrubbed(RunResult([Suite("node1", [case], {"inventory": "https://a:pw0rd@git/inv"})],
                                {"inventory": ["https://a:pw0rd@git/inv"]}))
    for text in (junit.to_xml(masked), json_report.dumps(masked),
                 terminal.render(terminal.table(masked, 120) + terminal.findings(masked, 120))):
        assert "s3cret" not in text and "tok3n" not in text and "pw0rd" not in text
        assert "https://***@files.site/kubeadm" in text


# -- the terminal -----------------------------------------------------------------------------------------


def test_the_table_has_a_row_per_vantage_point_with_its_counts_and_worst_finding():
    text = terminal.render(terminal.table(result(), 120)).splitlines()
    assert text[0].split() == ["suite", "pass", "fail", "error", "skip", "worst", "finding"]
    assert text[1].split()[:5] == ["node1", "1", "1", "0", "1"]
    assert text[1].endswith("image calico_node: digest differs")  # two digests: too long for the table
    assert text[2].split()[:5] == ["node2", "0", "0", "2", "0"] and "unreachable" in text[2]
    assert text[3].split() == ["runner", "0", "0", "0", "0", "no", "checks"]
    assert all(len(line) <= 120 for line in text)


@pytest.mark.parametrize("facts, message, says", [
    ({"expected": {"present": True, "checksum": A}, "found": {"present": False}}, "x: missing", "missing"),
    ({"expected": {"mode": "0755", "checksum": A}, "found": {"mode": "0600", "checksum": A}}, "x", "mode expected 0755, found 0600"),
    ({"expected": {"image": "r/x:1"}, "found": {"image": "missing"}}, "x: missing (present only as y)", "missing"),
    ({}, "node2: unreachable", "node2: unreachable"),
])
def test_the_table_says_what_is_wrong_in_a_few_words(facts, message, says):
    assert terminal.brief(Case("node1", "file", "x", "fail", message, facts)) == says


def test_findings_say_each_failure_once_by_node_with_expected_and_found_side_by_side():
    text = terminal.render(terminal.findings(result(), 200))
    lines = text.splitlines()
    assert lines[0] == "node1: 1 failed"
    assert lines[1].split() == ["FAIL", "image", "calico_node"]
    assert f"digest  expected {A}  found {B}" in text
    assert "image  expected" not in text  # the same on both sides: not shown
    # Checks that failed alike (the node could not be reached) are one finding naming them.
    assert "node2: 2 errors" in lines
    assert "ERROR image calico_node; file kubeadm (2 checks)" in [" ".join(line.split()) for line in lines]
    assert text.count("node2: unreachable: connection refused") == 1
    assert "cluster: 1 failed" in lines and "kubeadm: checksum" not in text


def test_expected_and_found_too_wide_for_one_line_stand_one_above_the_other():
    lines = terminal.render(terminal.findings(result(), 100)).splitlines()
    at = lines.index(f"        digest  expected {A}")
    assert lines[at + 1] == f"                found    {B}"
    assert all(len(line) <= 100 for line in lines if A not in line and B not in line)


def test_the_summary_is_coloured_by_verdict_and_plain_when_rendered_for_a_log():
    lines = terminal.table(result(), 100)
    node1 = lines[1]
    assert ("    1", {"red": True}) in node1 and ("    0", {}) in node1
    assert "\x1b" not in terminal.render(lines)


# -- progress ---------------------------------------------------------------------------------------------


def test_progress_rewrites_one_line_at_most_every_interval_and_clears_it():
    stream, now = io.StringIO(), [0.0]
    progress = Progress(stream, "observing nodes", 3, interval=1.0, clock=lambda: now[0])
    progress.update(0)
    progress.update(1)  # within the interval: not drawn
    now[0] = 2.0
    progress.update(2)
    progress.update(3)  # the last is always drawn
    progress.close()
    assert stream.getvalue() == ("\robserving nodes: 0/3\x1b[K\robserving nodes: 2/3\x1b[K"
                                 "\robserving nodes: 3/3\x1b[K\r\x1b[K")


def test_progress_without_a_terminal_writes_nothing():
    progress = Progress(None, "observing nodes", 3)
    progress.update(1)
    progress.close()
    assert progress.stream is None


# -- files --------------------------------------------------------------------------------------------------


def test_a_report_path_that_cannot_be_written_is_refused_naming_the_option(tmp_path):
    with pytest.raises(ReportPathError, match=rf"^--report-junit={tmp_path}: is a directory"):
        check_writable(str(tmp_path), "--report-junit")
    (tmp_path / "file").write_text("")
    with pytest.raises(ReportPathError, match="^--report-json=.*: cannot write in .*/file$"):
        check_writable(str(tmp_path / "file" / "r.json"), "--report-json")
    assert check_writable(str(tmp_path / "new" / "r.json"), "--report-json") == tmp_path / "new" / "r.json"


def test_a_report_replaces_the_old_one_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "out" / "report.json"
    write(path, "first\n")
    write(path, "second\n")
    assert path.read_text() == "second\n" and os.listdir(path.parent) == ["report.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
