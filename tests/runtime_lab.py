"""Real registry, containerd, dockerd and podman, each with its own state under one temp dir.

Used by `capture_runtimes.py` to record what the runtimes really print. Every
daemon gets its own root, state, socket and port, so several runs (and other
users' daemons on the same machine) never meet; each is started and stopped
by PID with the lab's `processes`, and the temp dir is removed. The registry
is `registries.start_registry`'s. Network traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from kubespray_verify.lab import processes
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.daemons import hosts_toml
from tests.registries import start_registry

START_TIMEOUT = 30.0  # seconds for a daemon to answer
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
COMMAND_TIMEOUT = 120.0  # seconds for one client command (pull, save, load...)


class LabUnavailable(LabError):
    """The daemons cannot run here (a program is missing, not root, a daemon did not start)."""


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
        self.procs: list[processes.ProcessRecord] = []
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

    def _start(self, name: str, argv: list[str], ready: Callable[[], object], env: dict | None = None) -> None:
        """Start a daemon, logging to `<name>.log`, and wait until `ready()` succeeds."""
        log = self.root / f"{name}.log"
        record, _ = processes.start(name, argv, log, env=env)
        self.procs.append(record)
        try:
            processes.wait_until(name, lambda: _succeeds(ready), timeout=START_TIMEOUT, interval=0.1, dead=record, log=log)
        except LabError as exc:
            raise LabUnavailable(f"{name} did not start: {exc}") from exc

    def close(self) -> None:
        # dockerd starts its own containerd; it normally stops it, this makes sure.
        pidfile = self.root / "docker" / "exec" / "containerd" / "containerd.pid"
        pid = pidfile.read_text().strip() if pidfile.exists() else ""
        child = processes.record_of("dockerd's containerd", int(pid)) if pid.isdigit() else None
        self.procs += [child] if child else []
        try:
            processes.stop(self.procs, grace=STOP_TIMEOUT)
        finally:
            self.procs.clear()
            shutil.rmtree(self.root, ignore_errors=True)

    # -- registry ----------------------------------------------------------

    def start_registry(self) -> None:
        try:
            server = start_registry(self.root / "registry")
        except LabError as exc:
            raise LabUnavailable(f"the registry did not start: {exc}") from exc
        self.procs.append(server.process)
        self.registry = server.host

    # -- containerd --------------------------------------------------------

    def start_containerd(self) -> None:
        base = self.root / "containerd"
        self.containerd_socket = base / "containerd.sock"
        self.containerd_hosts = base / "certs.d"
        hosts_toml(self.containerd_hosts, self.registry, f"http://{self.registry}", skip_verify=True)
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
        self._start("containerd", ["containerd", "--config", str(conf)], lambda: self.ctr("version", timeout=5))

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
        self._start("dockerd", ["dockerd", "--config-file", str(conf)], lambda: self.docker("version", timeout=5))

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
        return processes.run(argv, timeout=timeout, env=env).stdout.decode()


def _succeeds(ready: Callable[[], object]) -> bool:
    """Whether `ready()` ran without a command failing: a daemon still starting makes its client fail."""
    try:
        ready()
    except LabError:
        return False
    return True
