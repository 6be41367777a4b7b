"""Checksums the nodes read, kept on the runner so that unchanged files are not read again.

Reading files is most of a run's time: a node holds hundreds of megabytes of
binaries and archives. After a node hashes a file, the runner keeps the
checksum with the file's identity as the node reported it (device, inode,
size, mtime, ctime) and the node's machine-id. On the next run the probe
reuses the checksum only when the same machine reports the same identity for
the same path. Any write to a file sets its ctime to the current time, which
no user-space call can set back (touch and utime set mtime, and they move
ctime too), so a changed, replaced or re-downloaded file is always read again.
A checksum is kept only for a file whose ctime was already two seconds old
when the node read it (timestamps are coarse: a write in the same tick could
otherwise leave the identity unchanged).

What this does not see is a change below the filesystem (a disk that returns
other bytes, a block device written directly): `--rehash` reads every file
again, and records what it read.

One JSON file per node under `<cache>/checksums/`, private to the user, replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Mapping, Optional

from kubespray_verify.cache import cache_root, keep

MAX_ENTRIES = 5000  # per node; the oldest readings go first


class ChecksumMemo:
    def __init__(self, directory: Optional[Path] = None, reuse: bool = True):
        self.directory = Path(directory) if directory else cache_root() / "checksums"
        self.reuse = reuse  # False with --rehash: read everything again, still record
        self._loaded: dict[str, dict] = {}
        self._changed: set[str] = set()
        self._lock = threading.Lock()  # nodes are observed from several threads

    def _path(self, host: str, node: str) -> Path:
        key = hashlib.sha256(f"{host}\0{node}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.json"

    def _load(self, host: str, node: str) -> dict:
        path = self._path(host, node)
        if str(path) not in self._loaded:
            try:
                data = json.loads(path.read_text())
                if data.get("host") != host or data.get("node") != node or not isinstance(data.get("files"), dict):
                    raise ValueError
            except (OSError, ValueError, AttributeError):
                data = {"host": host, "node": node, "machine_id": None, "files": {}}
            self._loaded[str(path)] = data
        return self._loaded[str(path)]

    def request(self, host: str, node: str, paths: list[dict]) -> dict:
        """The probe request's "memo" section for these paths ({} when nothing can be reused)."""
        if not self.reuse:
            return {}
        with self._lock:
            data = self._load(host, node)
        wanted = {p["path"] for p in paths}
        files = {path: {"id": rec["id"], "checksum": rec["checksum"]}
                 for path, rec in data["files"].items() if path in wanted}
        if not files or not data.get("machine_id"):
            return {}
        return {"memo": {"machine_id": data["machine_id"], "files": files}}

    def record(self, host: str, node: str, answer: Mapping) -> None:
        """Keep what the node read this time; forget paths that are gone or unsettled."""
        files = answer.get("files")
        if not files:
            return
        machine_id = answer.get("machine_id") or ""
        if not machine_id:
            return  # a node without a machine-id gets no reuse
        with self._lock:
            self._record(host, node, machine_id, files)

    def _record(self, host: str, node: str, machine_id: str, files: Mapping) -> None:
        data = self._load(host, node)
        if data.get("machine_id") != machine_id:
            data["machine_id"], data["files"] = machine_id, {}
        now = time.time()
        for path, info in files.items():
            if info.get("memo"):
                continue
            if info.get("checksum") and info.get("settled") and not info.get("error"):
                data["files"][path] = {"id": info["id"], "checksum": info["checksum"], "read_at": now}
            else:
                data["files"].pop(path, None)
        if len(data["files"]) > MAX_ENTRIES:
            newest = sorted(data["files"].items(), key=lambda kv: kv[1].get("read_at", 0))[-MAX_ENTRIES:]
            data["files"] = dict(newest)
        self._changed.add(str(self._path(host, node)))

    def save(self) -> None:
        if not self._changed:
            return
        # Private to the user: paths and checksums of the nodes' files.
        for path in sorted(self._changed):
            keep(Path(path), json.dumps(self._loaded[path], sort_keys=True))
        self._changed.clear()
