"""--fix's file steps on real processes (the runner's own connection: Ansible's `local`), against nginx.

The file script downloads into a temporary file beside dest, verifies the checksum before the rename,
then sets mode and owner; a mismatching download never replaces what was there; the runner's cache is
written the same way; whoever stops (the runner, a signal) leaves no temporary file behind.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest

from kubespray_verify.fix import file_script, streams
from kubespray_verify.fix.execute import Executor
from kubespray_verify.fix.lock import FixLock, FixLocked
from kubespray_verify.fix.plan import COPY, CORRECT, DOWNLOAD, FETCH, RUNNER, Action, Chain, DownloadMode, Plan
from kubespray_verify.nodes.connection import node_from_vars
from tests.registries import OPERATOR, start_file_server


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("crictl", b"crictl stand-in\n"), ("LICENSE", b"license\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


KUBEADM = b"kubeadm stand-in\n" * 5000
ARCHIVE = _archive()
FILES = {"dl/kubeadm": KUBEADM, "dl/crictl.tar.gz": ARCHIVE, "private/kubeadm": KUBEADM}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def files_repo(tmp_path_factory):
    server = start_file_server(tmp_path_factory.mktemp("fix-files"), FILES, OPERATOR)
    yield server
    server.stop()


@pytest.fixture
def nodes():
    return {name: node_from_vars(name, {"ansible_connection": "local"}) for name in ("local1", "local2")}


def action(kind, host, dest, url="", checksum=None, targets=None, **extra):
    return Action(kind, "kubeadm", host, tuple(targets if targets is not None else (host,)), url, (), url=url,
                  dest=str(dest), checksum=checksum, mode=extra.pop("mode", "0755"), owner=extra.pop("owner", "root"),
                  **extra)


def execute(nodes, *actions, mode=DownloadMode(retries=1)):
    executor = Executor(nodes, backoff=0.01)
    return executor.execute(Plan(mode, [Chain("kubeadm", tuple(actions))])), executor


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".kubespray-verify-fix"))


def test_download_verifies_then_renames_with_mode_and_owner(files_repo, nodes, tmp_path):
    dest = tmp_path / "releases" / "kubeadm-1.31.0-amd64"
    outcomes, executor = execute(nodes, action(DOWNLOAD, "local1", dest, f"{files_repo.url}/dl/kubeadm", sha(KUBEADM)))
    assert outcomes[("local1", "kubeadm")].error is None
    assert dest.read_bytes() == KUBEADM and dest.stat().st_mode & 0o777 == 0o755
    assert outcomes[("local1", "kubeadm")].text == f"downloaded from {files_repo.url}/dl/kubeadm on local1"
    assert executor.tally.counts == {"local1": {"downloaded": 1}}
    assert leftovers(dest.parent) == []


def test_a_mismatching_download_never_replaces_a_good_file(files_repo, nodes, tmp_path):
    dest = tmp_path / "kubeadm"
    dest.write_bytes(b"what was there\n")
    wrong = "sha256:" + "0" * 64
    outcomes, _ = execute(nodes, action(DOWNLOAD, "local1", dest, f"{files_repo.url}/dl/kubeadm", wrong))
    error = outcomes[("local1", "kubeadm")].error
    assert f"checksum expected {wrong}, found {sha(KUBEADM)}" in error
    assert f"{files_repo.url}/dl/kubeadm" in error and "left as it was" in error
    assert dest.read_bytes() == b"what was there\n"
    assert leftovers(tmp_path) == []


def test_credentials_are_used_and_never_shown(files_repo, nodes, tmp_path):
    url = files_repo.url.replace("://", f"://{OPERATOR.username}:{OPERATOR.password}@") + "/private/kubeadm"
    dest = tmp_path / "kubeadm"
    outcomes, _ = execute(nodes, action(DOWNLOAD, "local1", dest, url, sha(KUBEADM)))
    assert dest.read_bytes() == KUBEADM
    assert OPERATOR.password not in outcomes[("local1", "kubeadm")].text
    denied, _ = execute(nodes, action(DOWNLOAD, "local1", tmp_path / "other",
                                      f"{files_repo.url}/private/kubeadm", sha(KUBEADM)))
    assert "HTTP 401" in denied[("local1", "kubeadm")].error
    assert not (tmp_path / "other").exists()


def test_unarchive_extracts_beside_the_archive(files_repo, nodes, tmp_path):
    dest = tmp_path / "crictl.tar.gz"
    outcomes, _ = execute(nodes, action(DOWNLOAD, "local1", dest, f"{files_repo.url}/dl/crictl.tar.gz", sha(ARCHIVE),
                                        unarchive=True))
    assert "2 entries unpacked" in outcomes[("local1", "kubeadm")].text
    assert (tmp_path / "crictl").read_bytes() == b"crictl stand-in\n"


def test_wrong_mode_corrected_without_download(nodes, tmp_path):
    dest = tmp_path / "kubeadm"
    dest.write_bytes(KUBEADM)
    dest.chmod(0o600)
    before = dest.stat().st_ino
    outcomes, _ = execute(nodes, action(CORRECT, "local1", dest, owner=None))
    assert dest.stat().st_mode & 0o777 == 0o755 and dest.stat().st_ino == before
    assert outcomes[("local1", "kubeadm")].text == "mode set to 0755 on local1"


def test_fetched_once_into_the_cache_then_copied_to_every_node(files_repo, nodes, tmp_path):
    cache = tmp_path / "cache" / "kubeadm-1.31.0-amd64"
    dests = {n: tmp_path / n / "kubeadm-1.31.0-amd64" for n in nodes}
    fetch = action(FETCH, "local1", dests["local1"], f"{files_repo.url}/dl/kubeadm", sha(KUBEADM), targets=(),
                   cache_path=str(cache))
    copy = Action(COPY, "kubeadm", RUNNER, ("local1",), str(cache), (), url=fetch.url, dest=str(dests["local1"]),
                  checksum=sha(KUBEADM), mode="0755", owner="root", cache_path=str(cache))
    copies = [copy, Action(COPY, "kubeadm", RUNNER, ("local2",), str(cache), (), url=fetch.url,
                           dest=str(dests["local2"]), checksum=sha(KUBEADM), mode="0644", cache_path=str(cache))]
    outcomes, executor = execute(nodes, fetch, copies[0])
    assert outcomes[("local1", "kubeadm")].error is None, outcomes
    assert cache.read_bytes() == KUBEADM and dests["local1"].read_bytes() == KUBEADM
    assert "copied from the runner's cache" in outcomes[("local1", "kubeadm")].text
    assert f"downloaded from {files_repo.url}/dl/kubeadm by local1" in outcomes[("local1", "kubeadm")].text
    assert leftovers(cache.parent) == [] and leftovers(dests["local1"].parent) == []
    outcomes, _ = execute(nodes, copies[1])
    assert dests["local2"].read_bytes() == KUBEADM and dests["local2"].stat().st_mode & 0o777 == 0o644


def test_a_mismatching_fetch_leaves_the_cache_as_it_was(files_repo, nodes, tmp_path):
    cache = tmp_path / "kubeadm"
    cache.write_bytes(b"cached before\n")
    wrong = "sha256:" + "1" * 64
    fetch = action(FETCH, "local1", tmp_path / "x", f"{files_repo.url}/dl/kubeadm", wrong, targets=(),
                   cache_path=str(cache))
    copy = action(COPY, RUNNER, tmp_path / "dest", checksum=wrong, targets=("local2",), cache_path=str(cache))
    outcomes, _ = execute(nodes, fetch, copy)
    assert "checksum expected" in outcomes[("local2", "kubeadm")].error
    assert cache.read_bytes() == b"cached before\n" and not (tmp_path / "dest").exists()
    assert leftovers(tmp_path) == []


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(50 * 1024 * 1024))
        self.end_headers()
        try:
            for _ in range(500):
                self.wfile.write(b"x" * 100_000)
                time.sleep(0.01)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_when_the_runner_goes_away_mid_download_no_temporary_file_is_left(slow_server, tmp_path):
    dest = tmp_path / "kubeadm"
    dest.write_bytes(b"good\n")
    processes = streams.Processes()
    process = processes.start(streams.local_command(file_script.command()))
    process.stdin.write(file_script.request_line({"op": "download", "url": f"{slow_server}/big", "dest": str(dest),
                                                  "checksum": "sha256:" + "2" * 64}))
    process.stdin.flush()
    deadline = time.monotonic() + 10
    while not leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leftovers(tmp_path), "the download never started"
    processes.stop_all()  # as on SIGINT: the script's stdin closes and it is told to stop
    assert process.wait(10) != 0
    assert leftovers(tmp_path) == [] and dest.read_bytes() == b"good\n"


def test_a_truncated_copy_leaves_nothing(tmp_path):
    dest = tmp_path / "kubeadm"
    processes = streams.Processes()
    finished = streams.run(processes, streams.local_command(file_script.command()),
                           file_script.request_line({"op": "receive", "size": len(KUBEADM), "dest": str(dest),
                                                     "checksum": sha(KUBEADM)}) + KUBEADM[:1000])
    assert finished.rc != 0 and "ended after 1000" in finished.stdout.decode()
    assert not dest.exists() and leftovers(tmp_path) == []


def test_temporary_files_of_a_killed_run_are_removed(files_repo, nodes, tmp_path):
    dest = tmp_path / "kubeadm"
    stale = tmp_path / ".kubeadm.999999999.kubespray-verify-fix"  # a PID no process has
    stale.write_bytes(b"half")
    execute(nodes, action(DOWNLOAD, "local1", dest, f"{files_repo.url}/dl/kubeadm", sha(KUBEADM)))
    assert not stale.exists() and dest.read_bytes() == KUBEADM


def test_fan_out_reaches_every_receiver_and_drops_a_failing_one(tmp_path):
    processes = streams.Processes()
    outputs = [tmp_path / "a", tmp_path / "b"]
    receivers = [streams.Receiver("a", process=processes.start(f"cat > {outputs[0]}")),
                 streams.Receiver("b", process=processes.start(f"cat > {outputs[1]}")),
                 streams.Receiver("gone", process=processes.start("exit 3"))]
    time.sleep(0.2)
    chunks = iter([b"x" * streams.CHUNK] * 8)
    total = streams.fan_out(processes, lambda: next(chunks, None), receivers)
    results = [streams.wait(processes, r) for r in receivers]
    assert total == 8 * streams.CHUNK
    assert [o.stat().st_size for o in outputs] == [total, total]
    assert results[2].rc == 3 and receivers[2].error


def test_a_second_fix_on_the_same_inventory_is_refused_naming_the_holder(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESPRAY_VERIFY_CACHE", str(tmp_path / "cache"))
    inventory = [str(tmp_path / "hosts.yml")]
    with FixLock(inventory):
        with pytest.raises(FixLocked, match=f"PID {os.getpid()} of "):
            with FixLock(inventory):
                pass
    with FixLock(inventory):  # let go when its holder is done
        pass
