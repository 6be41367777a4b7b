"""The suite's reports from real runs on this machine, no lab needed: node1 is this machine
(`ansible_connection: local`, none of Kubespray's files are here: each file check fails), node2 refuses
the connection (each of its checks errors), a pin that Kubespray master does not enforce is one
cluster-wide failure, and the registry asked about it refuses (an error).

The JUnit files (the suite's and pytest's own) validate against the JUnit schema and are read back with
junitparser; the JUnit report, the JSON report and the terminal table agree; pytest's own account of
the failures gives way to the summary; `-n 2` writes the same reports as a serial run; exit statuses
are pytest's; no credential of the inventory reaches any report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kubespray_fixtures import kubespray_dir, write_inventory
from tests.registries import refusing_port, unresponsive_port
from tests.report_files import (json_cases, json_report, junit_suites, junit_without_times, summary_table,
                                validate_junit, without_times)

REPO = Path(__file__).resolve().parents[1]
SECRETS = ("s3cr3t-in-url", "registry-pa55word", "t0ken-in-header")
PIN = "sha256:" + "5" * 64
# Images need a runtime on this machine; the run's checks are the rest: files, installed binaries, lint,
# the expected state (mirror probes would reach the download URLs, which are not on this machine).
CHECKS = ("-m", "not images and not mirrors")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An inventory with a local node1, an unreachable node2, a pin, and credentials in URL and vars."""
    root = tmp_path_factory.mktemp("site")
    with refusing_port() as dead:
        registry = f"127.0.0.1:{dead}"
        inventory = write_inventory(
            root / "inventory",
            {"node1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                       "container_manager": "docker"},
             "node2": {"ansible_host": "127.0.0.1", "ansible_port": dead, "ansible_user": "root"}},
            {"kube_control_plane": ["node1"], "etcd": ["node1"], "kube_node": ["node2"],
             "k8s_cluster": ["node1", "node2"]},
            group_vars={"all": {
                "kube_image_repo": registry, "quay_image_repo": registry,
                "calico_node_digest_checksum": PIN,
                "kubeadm_download_url": f"http://kv:{SECRETS[0]}@{registry}/kubeadm-{{{{ image_arch }}}}",
                "containerd_registry_auth": [{"registry": registry, "username": "kv", "password": SECRETS[1]}],
                "containerd_registries_mirrors": [{"prefix": registry, "mirrors": [
                    {"host": f"http://{registry}", "capabilities": ["pull", "resolve"],
                     "header": {"Authorization": f"Bearer {SECRETS[2]}"}}]}],
            }})
        yield {"inventory": inventory, "root": root, "cache": root / "cache", "dead": dead}


def run(site, tmp: Path, *args: str, timeout: int = 300, reports: bool = True, start_only: bool = False,
        pythonpath: str = ""):
    options = [f"--report-junit={tmp / 'report.xml'}", f"--report-json={tmp / 'report.json'}",
               f"--junitxml={tmp / 'pytest.xml'}"] if reports else []
    argv = [sys.executable, "-m", "pytest", f"--inventory={site['inventory']}", f"--kubespray-dir={kubespray_dir()}",
            "-p", "no:cacheprovider", *options, *args]
    env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(site["cache"]))
    env.pop("PY_COLORS", None)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
    if start_only:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def serial(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    return tmp, run(site, tmp, *CHECKS, "--connect-timeout=3")


def test_the_reports_validate_read_back_and_agree_with_each_other_and_the_terminal(serial):
    tmp, proc = serial
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    validate_junit(tmp / "pytest.xml")  # pytest's own --junitxml still works, in the same schema
    suites = junit_suites(tmp / "report.xml")
    report = json_report(tmp / "report.json")
    table = summary_table(proc.stdout)
    assert list(suites) == list(report["suites"]) == list(table) == ["node1", "node2", "cluster"]
    for name, suite in suites.items():
        totals = report["suites"][name]["totals"]
        assert (suite["tests"], suite["failures"], suite["errors"], suite["skipped"]) == (
            sum(totals.values()), totals["fail"], totals["error"], totals["skip"])
        assert {k: table[name][k] for k in totals} == totals
        # Each case: the same verdict and message in JUnit and JSON, under classname <vantage>.<kind>.
        assert {(c, n): v[:2] for (c, n), v in suite["cases"].items()} == {
            (f"{name}.{kind}", item): said for (vantage, kind, item), said in json_cases(report).items()
            if vantage == name}
    summed = {v: sum(s["totals"][v] for s in report["suites"].values()) for v in ("pass", "fail", "error", "skip")}
    assert report["totals"] == summed and summed["pass"] and summed["fail"] and summed["error"] and summed["skip"]
    assert report["exit_status"] == 1


def test_a_wrong_state_is_a_failure_what_could_not_be_told_an_error(serial):
    tmp, _ = serial
    suites = junit_suites(tmp / "report.xml")
    node1, node2, cluster = suites["node1"]["cases"], suites["node2"]["cases"], suites["cluster"]["cases"]
    verdict, message, out = node1[("node1.file", "kubeadm")]
    assert verdict == "fail" and message.endswith(": missing")
    assert "expected.present: true" in out and "found.present: false" in out
    assert node1[("node1.expected", "downloads")][0] == "pass"
    assert {v for (c, _), (v, _, _) in node1.items() if c == "node1.installed_binary"} == {"skip"}
    on_node2 = {key: said for key, said in node2.items() if key != ("node2.expected", "downloads")}
    assert on_node2 and {v for v, _, _ in on_node2.values()} == {"error"}
    assert all("node2" in m and "refused" in m for _, m, _ in on_node2.values())
    assert node2[("node2.expected", "downloads")][0] == "pass"  # resolved without the node
    verdict, message, out = cluster[("cluster.lint", "pinned_digests_are_enforced_by_kubespray")]
    assert verdict == "fail" and "the pins on node1, node2 are enforced only by this suite" in message
    assert "nodes: node1, node2" in out.splitlines()
    verdict, message, _ = cluster[("cluster.lint", "digest_pin:calico_node")]
    assert verdict == "error" and "cannot ask the registry" in message


def test_the_suites_carry_the_runs_properties(serial, site):
    tmp, _ = serial
    suites = junit_suites(tmp / "report.xml")
    import ansible

    for name, suite in suites.items():
        props = suite["properties"]
        assert props["kubespray.dir"] == str(kubespray_dir()) and props["kubespray.version"]
        assert props["ansible_core"] == ansible.__version__ and props["inventory"] == str(site["inventory"])
    assert suites["node1"]["properties"]["runtime"] == "docker"
    assert suites["node1"]["properties"]["architecture"] in ("amd64", "arm64")
    assert suites["node1"]["properties"]["machine"] == os.uname().machine
    assert suites["node2"]["properties"]["reached"] == "no"
    report = json_report(tmp / "report.json")
    assert set(report["expected"]["hosts"]) == {"node1", "node2"}
    assert report["expected"]["hosts"]["node1"]["files"] > 0
    assert set(report["timings"]) >= {"session", "resolve", "observe"}
    assert report["timings"]["observe"]["node1"]["round_trips"] == 1


def test_each_failure_is_said_once_and_pytests_own_sections_give_way(serial, site, tmp_path):
    tmp, proc = serial
    out = proc.stdout
    assert "= FAILURES =" not in out and "= ERRORS =" not in out and "short test summary info" not in out
    findings = " ".join(out.split("failures and errors, by vantage point", 1)[1].split())
    report = json_report(tmp / "report.json")
    said = {c["message"] for s in report["suites"].values() for c in s["cases"] if c["verdict"] in ("fail", "error")}
    assert said and all(findings.count(message) == 1 for message in said), findings
    # node2's checks all failed alike (its connection is refused): one finding names them all.
    errors = [c for c in report["suites"]["node2"]["cases"] if c["verdict"] == "error"]
    assert len(errors) > 1 and f"({len(errors)} checks)" in findings
    assert out.rstrip().splitlines()[-1].split(" in ")[0].endswith("errors")  # pytest's closing line stays
    # Asked for explicitly, pytest's own sections are back.
    again = run(site, tmp_path, *CHECKS, "--connect-timeout=3", "--tb=line", "-rfE", reports=False)
    assert "= FAILURES =" in again.stdout and "short test summary info" in again.stdout


def test_under_xdist_the_reports_are_those_of_a_serial_run(serial, site, tmp_path):
    tmp, _ = serial
    proc = run(site, tmp_path, *CHECKS, "--connect-timeout=3", "-n", "2")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert junit_without_times(tmp_path / "report.xml") == junit_without_times(tmp / "report.xml")
    assert without_times(json_report(tmp_path / "report.json")) == without_times(json_report(tmp / "report.json"))
    validate_junit(tmp_path / "pytest.xml")


def test_no_credential_of_the_inventory_reaches_a_report_or_the_terminal(serial, site, tmp_path):
    tmp, proc = serial
    texts = [proc.stdout, proc.stderr] + [(tmp / f).read_text() for f in ("report.xml", "report.json", "pytest.xml")]
    assert "http://***@127.0.0.1" in texts[0] and "http://***@127.0.0.1" in texts[3]  # the URL, not its password
    for secret in SECRETS:
        assert not [i for i, text in enumerate(texts) if secret in text], secret


# -- exit statuses -------------------------------------------------------------------------------------


def test_all_green_is_0_a_failure_or_an_error_is_1(site, tmp_path):
    green = run(site, tmp_path, "-k", "test_downloads_resolve")
    assert green.returncode == 0, green.stdout[-2000:]
    assert json_report(tmp_path / "report.json")["totals"] == {"pass": 2, "fail": 0, "error": 0, "skip": 0}
    errors_only = run(site, tmp_path, *CHECKS, "-k", "node2", "--connect-timeout=3")
    assert errors_only.returncode == 1
    totals = json_report(tmp_path / "report.json")["totals"]
    assert totals["error"] > 0 and totals["fail"] == 0


def test_a_report_that_cannot_be_written_is_a_usage_error(site, tmp_path):
    proc = run(site, tmp_path, f"--report-json={tmp_path}", reports=False)
    assert proc.returncode == 4
    assert f"--report-json={tmp_path}: is a directory, not a file" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_an_interrupted_run_is_2_and_its_reports_say_so(site, tmp_path):
    with unresponsive_port() as port:
        args = ("-m", "files", f"--extra-vars=ansible_port={port}", "--connect-timeout=8")
        assert run(site, tmp_path, *args, "--collect-only", reports=False).returncode == 0  # resolved and cached
        proc = run(site, tmp_path, *args, start_only=True)
        time.sleep(4)  # now waiting on node2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out[-2000:] + err[-2000:]
    assert json_report(tmp_path / "report.json")["exit_status"] == 2
    validate_junit(tmp_path / "report.xml")


def test_an_internal_error_is_3(site, tmp_path):
    (tmp_path / "kv_broken_plugin.py").write_text(
        "def pytest_collection_modifyitems(items):\n    raise RuntimeError('a plugin broke')\n")
    proc = run(site, tmp_path, "-p", "kv_broken_plugin", "-m", "lint", pythonpath=str(tmp_path))
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "a plugin broke" in proc.stdout + proc.stderr
