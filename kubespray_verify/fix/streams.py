"""Commands on the nodes with their stdin and stdout as pipes, and streams copied between them.

A command runs on a node over the connection the observation used (testinfra's
ssh backend: the same ssh options, key, ProxyJump and become), as a local `ssh`
process whose stdin and stdout are the remote command's. A stream from one
node to others is copied through the runner a chunk at a time, to every
receiver at once: the runner never holds more than one chunk of an image or
a file. Every process started here is known to the `Processes` it was started
under, which stops them all at once when the run is interrupted: each remote
command then sees its stdin close, and the receiving side drops what it had
not finished.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable, Optional, Sequence

from kubespray_verify.errors import VerifyError

CHUNK = 1 << 20  # bytes copied at a time


@dataclass
class Finished:
    rc: int
    stdout: bytes
    stderr: str

    def last_line(self, stream: str = "stderr") -> str:
        text = self.stderr if stream == "stderr" else self.stdout.decode(errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Interrupted(Exception):
    """The run was interrupted (SIGINT): what was under way has been stopped."""


class Processes:
    """The processes a fix run started, so that an interrupt stops all of them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self.stopping = threading.Event()

    def start(self, command: str, stdin: bool = True, stdout: bool = True) -> subprocess.Popen:
        if self.stopping.is_set():
            raise Interrupted()
        process = subprocess.Popen(
            command, shell=True, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,  # a terminal's SIGINT reaches the run, which stops these itself
        )
        with self._lock:
            self._live.add(process)
        return process

    def done(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._live.discard(process)

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            live = list(self._live)
        for process in live:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in live:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    """The process and what its shell started (its own session: the group is its PID)."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def node_command(node, argv_or_command) -> str:
    """The local shell command that runs `argv_or_command` on `node` (a nodes.connection.Node)."""
    remote = argv_or_command if isinstance(argv_or_command, str) else shlex.join(argv_or_command)
    backend = node.backend
    remote = backend.get_command(remote)  # sudo for ansible_become
    if backend.NAME in ("ssh", "safe-ssh"):
        parts, args = backend._build_ssh_command(remote)
        return backend.quote(" ".join(parts), *args)
    if backend.NAME == "local":
        return remote
    raise VerifyError(f"{node.name}: --fix runs commands over ssh or a local connection, "
                      f"not {backend.NAME} ({node.description})")


def local_command(argv_or_command) -> str:
    return argv_or_command if isinstance(argv_or_command, str) else shlex.join(argv_or_command)


def drain(stream: BinaryIO, into: list) -> threading.Thread:
    """Read `stream` to its end in a thread, into `into`; join the thread before reading `into`."""
    def read():
        try:
            into.append(stream.read())
        except (OSError, ValueError):
            into.append(b"")
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def run(processes: Processes, command: str, stdin: Optional[bytes] = None, keep_stdin_open: bool = False,
        timeout: Optional[float] = None) -> Finished:
    """Run a shell command to the end; `stdin` is written first (the stream stays open while it runs
    when `keep_stdin_open`: commands that stop when their runner goes away watch it)."""
    process = processes.start(command)
    out: list = []
    err: list = []
    readers = [drain(process.stdout, out), drain(process.stderr, err)]
    try:
        if stdin:
            try:
                process.stdin.write(stdin)
                process.stdin.flush()
            except BrokenPipeError:
                pass
        if not keep_stdin_open:
            process.stdin.close()
        readers[0].join(timeout)
        readers[1].join(timeout)
        rc = process.wait(timeout)
    finally:
        if not process.stdin.closed:
            try:
                process.stdin.close()
            except OSError:
                pass
        processes.done(process)
    if processes.stopping.is_set():
        raise Interrupted()
    return Finished(rc, out[0] if out else b"", (err[0] if err else b"").decode(errors="replace"))


@dataclass
class Receiver:
    """One end a stream is copied into: a started process, or a local file."""

    name: str
    process: Optional[subprocess.Popen] = None
    file: Optional[BinaryIO] = None
    error: Optional[str] = None
    stderr: Optional[list] = None
    stdout: Optional[list] = None

    def write(self, chunk: bytes) -> None:
        if self.process is not None:
            self.process.stdin.write(chunk)
        else:
            self.file.write(chunk)


def fan_out(processes: Processes, source: Callable[[], Optional[bytes]], receivers: Sequence[Receiver],
            on_bytes: Callable[[int], None] = lambda n: None) -> int:
    """Copy chunks from `source()` (None or b"" at the end) into every receiver still healthy.

    A receiver that fails (its process exited, a full disk) is dropped with its error; the others go
    on. Returns the bytes read from the source.
    """
    for receiver in receivers:
        if receiver.process is not None:
            receiver.stdout, receiver.stderr = [], []
            drain(receiver.process.stdout, receiver.stdout)
            drain(receiver.process.stderr, receiver.stderr)
    total = 0
    while True:
        if processes.stopping.is_set():
            raise Interrupted()
        chunk = source()
        if not chunk:
            break
        total += len(chunk)
        on_bytes(len(chunk))
        live = [r for r in receivers if r.error is None]
        if not live:
            break
        for receiver in live:
            try:
                receiver.write(chunk)
            except (BrokenPipeError, OSError) as exc:
                receiver.error = f"the receiving side stopped ({exc.strerror or exc})"
    for receiver in receivers:
        if receiver.process is not None:
            try:
                receiver.process.stdin.close()
            except OSError:
                pass
    return total


def wait(processes: Processes, receiver: Receiver, timeout: Optional[float] = None) -> Finished:
    process = receiver.process
    try:
        rc = process.wait(timeout)
    finally:
        processes.done(process)
    deadline = time.monotonic() + 5
    while (not receiver.stdout or not receiver.stderr) and time.monotonic() < deadline:
        time.sleep(0.01)
    return Finished(rc, b"".join(receiver.stdout or []), b"".join(receiver.stderr or []).decode(errors="replace"))
