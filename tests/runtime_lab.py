"""Real registry, containerd, dockerd and podman, each with its own state under one temp dir.

Used by `capture_runtimes.py` to record what the runtimes really print. Every
daemon gets its own root, state, socket and port, so several runs (and other
users' daemons on the same machine) never meet; each is stopped by the PID it
was started with, and the temp dir is removed. Network traffic stays on
127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

START_TIMEOUT = 30.0  # seconds for a daemon to answer
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
COMMAND_TIMEOUT = 120.0  # seconds for one client command (pull, save, load...)


class LabError(RuntimeError):
    """A client command failed; the message carries its output."""


class LabUnavailable(LabError):
    """The daemons cannot run here (a program is missing, not root, a daemon did not start)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_programs() -> list[str]:
    wanted = ("docker-registry", "containerd", "ctr", "runc", "dockerd", "podman")
    return [p for p in wanted if shutil.which(p) is None]


def docker_client() -> str:
    """The docker CLI shipped with the daemon (Debian's docker.io), else whichever is on PATH."""
    return "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else (shutil.which("docker") or "docker")


class Lab:
    """Context manager: `with Lab() as lab: lab.ctr(...)`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kv-runtimes-"))
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.registry = ""  # "127.0.0.1:PORT" once started
        self.commands: list[str] = []  # every client command run, temp paths shown as $LAB

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> "Lab":
        problems = [f"{p} is not installed" for p in missing_programs()]
        if os.geteuid() != 0:
            problems.append("it needs root")
        if problems:
            self.close()
            raise LabUnavailable("the runtimes cannot run here: " + "; ".join(problems))
        try:
            self.start_registry()
            self.start_containerd()
            self.start_dockerd()
            self.setup_podman()
        except BaseException:
            self.close()
            raise
        self.commands.clear()  # keep what the caller runs, not the readiness polls
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    def _wait(self, name: str, proc: subprocess.Popen, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if ready():
                    return
            except (OSError, LabError, requests.RequestException, subprocess.SubprocessError):
                pass
            time.sleep(0.1)
        log = (self.root / f"{name}.log").read_text(errors="replace")[-3000:]
        raise LabUnavailable(f"{name} did not start (exit status {proc.poll()}):\n{log}")

    def close(self) -> None:
        for name, proc in reversed(self.procs):
            _stop(proc.pid, proc)
        self.procs.clear()
        # dockerd starts its own containerd; it normally stops it, this makes sure.
        pidfile = self.root / "docker" / "exec" / "containerd" / "containerd.pid"
        if pidfile.exists():
            try:
                _stop(int(pidfile.read_text().strip()), None)
            except ValueError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    # -- registry ----------------------------------------------------------

    def start_registry(self) -> None:
        port = free_port()
        self.registry = f"127.0.0.1:{port}"
        conf = self.root / "registry.yml"
        conf.write_text(
            "version: 0.1\n"
            "log: {level: warn, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'registry'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{self.registry}'}}\n"
            "health: {storagedriver: {enabled: false}}\n"
        )
        proc = self._spawn("registry", ["docker-registry", "serve", str(conf)])
        session = requests.Session()
        session.trust_env = False
        self._wait("registry", proc, lambda: session.get(f"http://{self.registry}/v2/", timeout=1).ok)

    # -- containerd --------------------------------------------------------

    def start_containerd(self) -> None:
        base = self.root / "containerd"
        hosts = base / "certs.d" / self.registry
        hosts.mkdir(parents=True)
        (hosts / "hosts.toml").write_text(
            f'server = "http://{self.registry}"\n\n'
            f'[host."http://{self.registry}"]\n  capabilities = ["pull", "resolve"]\n'
        )
        self.containerd_socket = base / "containerd.sock"
        self.containerd_hosts = base / "certs.d"
        conf = base / "config.toml"
        conf.write_text(
            "version = 2\n"
            f'root = "{base / "root"}"\n'
            f'state = "{base / "state"}"\n'
            f'[grpc]\n  address = "{self.containerd_socket}"\n'
            f'[ttrpc]\n  address = "{base / "containerd.sock.ttrpc"}"\n'
            '[debug]\n  address = ""\n'
            '[metrics]\n  address = ""\n'
            "[plugins]\n"
            f'  [plugins."io.containerd.internal.v1.opt"]\n    path = "{base / "opt"}"\n'
            '  [plugins."io.containerd.grpc.v1.cri"]\n'
            "    disable_apparmor = true\n"
            '    stream_server_address = "127.0.0.1"\n'
            '    [plugins."io.containerd.grpc.v1.cri".containerd]\n      snapshotter = "native"\n'
            f'    [plugins."io.containerd.grpc.v1.cri".registry]\n      config_path = "{self.containerd_hosts}"\n'
        )
        proc = self._spawn("containerd", ["containerd", "--config", str(conf)])
        self._wait("containerd", proc, lambda: self.ctr("version", timeout=5) is not None)

    def ctr(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        return self._run(["ctr", "--address", str(self.containerd_socket), "-n", "k8s.io", *args], timeout=timeout)

    def ctr_pull(self, ref: str) -> str:
        return self.ctr("images", "pull", "--hosts-dir", str(self.containerd_hosts), ref)

    # -- dockerd -----------------------------------------------------------

    def start_dockerd(self) -> None:
        base = self.root / "docker"
        base.mkdir()
        self.docker_socket = base / "docker.sock"
        conf = base / "daemon.json"
        conf.write_text(
            json.dumps(
                {
                    "data-root": str(base / "data"),
                    "exec-root": str(base / "exec"),
                    "pidfile": str(base / "docker.pid"),
                    "hosts": [f"unix://{self.docker_socket}"],
                    "storage-driver": "vfs",
                    "iptables": False,
                    "ip-masq": False,
                    "bridge": "none",
                    "insecure-registries": [self.registry],
                    "log-level": "warn",
                },
                indent=2,
            )
        )
        proc = self._spawn("dockerd", ["dockerd", "--config-file", str(conf)])
        self._wait("dockerd", proc, lambda: self.docker("version", timeout=5) is not None)

    def docker(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        env = dict(os.environ, DOCKER_CONFIG=str(self.root / "docker" / "client"))
        env.pop("DOCKER_HOST", None)
        return self._run([docker_client(), "-H", f"unix://{self.docker_socket}", *args], timeout=timeout, env=env)

    # -- podman (containers-storage) ---------------------------------------

    def setup_podman(self) -> None:
        base = self.root / "podman"
        (base / "tmp").mkdir(parents=True)
        self.storage_root = base / "graph"
        (base / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.storage_root}"\nrunroot = "{base / "run"}"\n'
        )
        (base / "registries.conf").write_text(
            f'unqualified-search-registries = []\n\n[[registry]]\nlocation = "{self.registry}"\ninsecure = true\n'
        )
        (base / "containers.conf").write_text(
            "[engine]\n"
            'events_logger = "none"\n'
            'cgroup_manager = "cgroupfs"\n'
            f'tmp_dir = "{base / "tmp"}"\n'
            f'image_copy_tmp_dir = "{base / "tmp"}"\n'
            f'static_dir = "{self.storage_root / "libpod"}"\n'
            f'volume_path = "{self.storage_root / "volumes"}"\n'
        )
        (base / "auth.json").write_text("{}\n")
        self.podman_env = dict(
            os.environ,
            CONTAINERS_STORAGE_CONF=str(base / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(base / "registries.conf"),
            CONTAINERS_CONF=str(base / "containers.conf"),
            REGISTRY_AUTH_FILE=str(base / "auth.json"),
            TMPDIR=str(base / "tmp"),
        )
        try:
            self.podman("info", "--format", "{{.Store.GraphDriverName}}", timeout=30)
        except LabError as exc:
            raise LabUnavailable(f"podman does not run: {exc}") from exc

    def podman(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        return self._run(["podman", *args], timeout=timeout, env=self.podman_env)

    # -- helpers -----------------------------------------------------------

    def _run(self, argv: list[str], *, timeout: float, env: dict | None = None) -> str:
        self.commands.append(" ".join(argv).replace(str(self.root), "$LAB"))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{' '.join(argv)}: no answer in {timeout:.0f} s") from exc
        if done.returncode != 0:
            raise LabError(f"{' '.join(argv)}: exit status {done.returncode}\n{done.stderr.strip()}")
        return done.stdout


def _stop(pid: int, proc: subprocess.Popen | None) -> None:
    """SIGTERM `pid`, then SIGKILL it if it has not exited after STOP_TIMEOUT."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if proc is not None:
        proc.wait(timeout=STOP_TIMEOUT)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
