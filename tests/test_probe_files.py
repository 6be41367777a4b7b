"""The probe's file records on real files: checksums, one reading per file, reuse of earlier readings.

The probe runs here as it runs on a node: the shipped command under `sh`, the
machine's python3, real files in a temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time

import pytest

from kubespray_verify.nodes.probe import script as node_probe
from kubespray_verify.nodes.probe.command import probe_command
from kubespray_verify.nodes.checksum_memo import ChecksumMemo



def later() -> int:
    """A probe start time long after every file here was written (so each counts as settled)."""
    return time.time_ns() + 10 * 10**9


def run_probe(request: dict) -> dict:
    proc = subprocess.run(["sh", "-c", probe_command(request)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sha(data: bytes, algo: str = "sha256") -> str:
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


@pytest.fixture
def files(tmp_path):
    blob = os.urandom(9 * 1024 * 1024 + 17)  # more than two of the probe's 4 MiB blocks
    (tmp_path / "big").write_bytes(blob)
    (tmp_path / "small").write_bytes(b"kubeadm\n")
    os.link(tmp_path / "big", tmp_path / "big-link")
    (tmp_path / "dir").mkdir()
    return tmp_path, blob


def test_records_checksum_size_mode_owner_for_each_algorithm(files):
    base, blob = files
    (base / "small").chmod(0o755)
    answer = run_probe({"paths": [{"path": str(base / "big"), "algo": "sha256"},
                                  {"path": str(base / "small"), "algo": "sha512"},
                                  {"path": str(base / "gone"), "algo": "sha256"},
                                  {"path": str(base / "dir"), "algo": "sha256"}]})
    got = answer["files"]
    assert got[str(base / "big")]["checksum"] == sha(blob)
    assert got[str(base / "big")]["size"] == len(blob)
    assert got[str(base / "small")]["checksum"] == sha(b"kubeadm\n", "sha512")
    assert got[str(base / "small")]["mode"] == "0755"
    assert got[str(base / "small")]["owner"] == __import__("pwd").getpwuid(os.getuid()).pw_name
    assert got[str(base / "gone")] == {"exists": False}
    assert got[str(base / "dir")]["type"] == "dir" and "checksum" not in got[str(base / "dir")]
    assert answer["machine_id"] == open("/etc/machine-id").read().strip()


def test_the_same_file_under_two_names_is_read_once(files, monkeypatch):
    base, blob = files
    reads = []
    real = node_probe._hash
    monkeypatch.setattr(node_probe, "_hash", lambda path, algo: reads.append(path) or real(path, algo))
    got = node_probe._files([{"path": str(base / "big"), "algo": "sha256"},
                             {"path": str(base / "big-link"), "algo": "sha256"},
                             {"path": str(base / "small"), "algo": "sha256"}], {}, later())
    assert got[str(base / "big")]["checksum"] == got[str(base / "big-link")]["checksum"] == sha(blob)
    assert sorted(reads) == sorted([str(base / "big"), str(base / "small")])


def test_a_file_with_an_unchanged_identity_is_not_read_again(files):
    base, _ = files
    path = str(base / "small")
    first = node_probe._files([{"path": path, "algo": "sha256"}], {}, later())[path]
    # A checksum no reading could give: reused only if the file is not read again.
    known = {path: {"id": first["id"], "checksum": "sha256:" + "0" * 64}}
    again = node_probe._files([{"path": path, "algo": "sha256"}], known, later())[path]
    assert again["memo"] is True and again["checksum"] == "sha256:" + "0" * 64
    # Another algorithm than the one remembered: read.
    other = node_probe._files([{"path": path, "algo": "sha512"}], known, later())[path]
    assert "memo" not in other and other["checksum"] == sha(b"kubeadm\n", "sha512")


def test_a_rewritten_file_is_read_again_even_with_size_and_mtime_put_back(files):
    base, _ = files
    path = base / "small"
    first = node_probe._files([{"path": str(path), "algo": "sha256"}], {}, later())[str(path)]
    before = path.stat()
    time.sleep(0.02)
    path.write_bytes(b"kubeadX\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    known = {str(path): {"id": first["id"], "checksum": first["checksum"]}}
    again = node_probe._files([{"path": str(path), "algo": "sha256"}], known, later())[str(path)]
    assert "memo" not in again
    assert again["checksum"] == sha(b"kubeadX\n")


def test_a_file_changed_moments_before_the_probe_is_not_kept(files):
    base, _ = files
    path = str(base / "small")
    just_now = node_probe._files([{"path": path, "algo": "sha256"}], {}, time.time_ns())[path]
    assert just_now["settled"] is False
    assert node_probe._files([{"path": path, "algo": "sha256"}], {}, later())[path]["settled"] is True


def test_earlier_readings_are_used_only_on_the_machine_that_made_them(files):
    base, _ = files
    path = str(base / "small")
    first = node_probe._files([{"path": path, "algo": "sha256"}], {}, later())[path]
    known = {path: {"id": first["id"], "checksum": "sha256:" + "0" * 64}}
    request = {"paths": [{"path": path, "algo": "sha256"}]}
    mine = open("/etc/machine-id").read().strip()
    assert run_probe(dict(request, memo={"machine_id": mine, "files": known}))["files"][path]["memo"] is True
    other = run_probe(dict(request, memo={"machine_id": "another-machine", "files": known}))["files"][path]
    assert "memo" not in other and other["checksum"] == sha(b"kubeadm\n")


def answer_for(path: str, record: dict) -> dict:
    return {"machine_id": "m1", "files": {path: record}}


def test_memo_keeps_settled_readings_and_gives_them_back(tmp_path):
    memo = ChecksumMemo(tmp_path / "memo")
    ident = [1, 2, 3, 4, 5]
    memo.record("node1", "ssh://root@10.0.0.11", {"machine_id": "m1", "files": {
        "/tmp/releases/kubeadm": {"exists": True, "id": ident, "checksum": "sha256:aa", "settled": True},
        "/tmp/releases/kubelet": {"exists": True, "id": ident, "checksum": "sha256:bb", "settled": False},
        "/tmp/releases/kubectl": {"exists": True, "error": "Permission denied"},
    }})
    memo.save()
    stored = list((tmp_path / "memo").iterdir())
    assert len(stored) == 1 and stat.S_IMODE(stored[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "memo").stat().st_mode) == 0o700

    again = ChecksumMemo(tmp_path / "memo")
    paths = [{"path": p, "algo": "sha256"} for p in ("/tmp/releases/kubeadm", "/tmp/releases/kubelet")]
    assert again.request("node1", "ssh://root@10.0.0.11", paths) == {
        "memo": {"machine_id": "m1", "files": {"/tmp/releases/kubeadm": {"id": ident, "checksum": "sha256:aa"}}}}
    # Another node, or the same name reached elsewhere: nothing.
    assert again.request("node2", "ssh://root@10.0.0.11", paths) == {}
    assert again.request("node1", "ssh://root@10.0.0.99", paths) == {}
    # --rehash: nothing offered.
    assert ChecksumMemo(tmp_path / "memo", reuse=False).request("node1", "ssh://root@10.0.0.11", paths) == {}


def test_memo_forgets_a_path_read_again_unsettled_and_everything_on_another_machine(tmp_path):
    memo = ChecksumMemo(tmp_path)
    node = ("node1", "ssh://root@10.0.0.11")
    paths = [{"path": "/a", "algo": "sha256"}, {"path": "/b", "algo": "sha256"}]
    memo.record(*node, {"machine_id": "m1", "files": {
        "/a": {"id": [1], "checksum": "sha256:aa", "settled": True},
        "/b": {"id": [2], "checksum": "sha256:bb", "settled": True}}})
    memo.record(*node, {"machine_id": "m1", "files": {"/a": {"id": [3], "checksum": "sha256:cc", "settled": False}}})
    assert set(memo.request(*node, paths)["memo"]["files"]) == {"/b"}
    memo.record(*node, {"machine_id": "m2", "files": {"/c": {"id": [4], "checksum": "sha256:dd", "settled": True}}})
    assert memo.request(*node, paths) == {}


def test_an_unreadable_memo_is_an_empty_one(tmp_path):
    memo = ChecksumMemo(tmp_path)
    memo.record("node1", "local://node1", {"machine_id": "m1", "files": {
        "/a": {"id": [1], "checksum": "sha256:aa", "settled": True}}})
    memo.save()
    for text in ("{not json", json.dumps({"host": "node1", "node": "local://node1", "files": []}), "[]"):
        next(tmp_path.iterdir()).write_text(text)
        assert ChecksumMemo(tmp_path).request("node1", "local://node1", [{"path": "/a", "algo": "sha256"}]) == {}


def test_a_memo_that_cannot_be_written_is_said_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    memo = ChecksumMemo(blocker / "checksums")
    memo.record("node1", "local://node1", {"machine_id": "m1", "files": {
        "/a": {"id": [1], "checksum": "sha256:aa", "settled": True}}})
    with pytest.warns(UserWarning, match="not usable"):
        memo.save()
    assert blocker.read_text() == ""


def test_a_file_written_while_it_is_read_is_unverifiable_not_judged(files, monkeypatch):
    base, _ = files
    path = base / "small"
    real = node_probe._hash

    def read_then_append(p, algo):
        checksum = real(p, algo)
        with open(p, "ab") as fh:
            fh.write(b"more")
        return checksum

    monkeypatch.setattr(node_probe, "_hash", read_then_append)
    got = node_probe._files([{"path": str(path), "algo": "sha256"}], {}, later())[str(path)]
    assert got["error"] == "changed while it was being read" and "checksum" not in got
