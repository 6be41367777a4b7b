"""The lab as a Python object: bring it up, look at it, drift it, bring it down.

    lab = Lab.up("kvlab", nodes=3, runtimes=("containerd", "docker", "crio"))
    lab.inventory_dir, lab.nodes, lab.registry, lab.expected
    lab.drift("node1", "image-missing", "calico_node"); lab.heal("node1")
    lab.down()
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from kubespray_verify.lab import (artifacts, cleanup, deploy, drift, images, inventory, layout as layouts,
                                  netns, nodes as node_ops, pki as pki_ops, processes, servers,
                                  state as states)
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.layout import RUNTIMES, Layout
from kubespray_verify.lab.nodes import Node
from kubespray_verify.lab.overrides import checksum_vars
from kubespray_verify.lab.daemons import RegistryAccess
from kubespray_verify.lab.state import ImageRecord, LabState
from kubespray_verify.model import ExpectedState, FileItem, ImageItem
from kubespray_verify.registry.client import RegistryClient

DEFAULT_PREFIX = "kvlab"
RUNNER_DOCKER = "rdocker"  # the namespace of the daemon standing for the runner's docker
RUNNER_DOCKER_INDEX = 220  # its address: beyond every node's (layout.MAX_NODES)
PARALLEL_NODES = 8  # nodes deployed side by side
REQUIRED_PROGRAMS = ("/usr/bin/docker-registry", "/usr/sbin/nginx", "/usr/bin/containerd", "/usr/bin/ctr",
                     "/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/podman", "/usr/sbin/sshd", "/usr/bin/htpasswd",
                     "/usr/bin/openssl", "/usr/bin/ssh-keygen", "/usr/bin/nsenter", "/usr/bin/unshare")


@dataclass(frozen=True)
class RegistryInfo:
    """How to reach the lab's mirrors from the runner."""

    host: str  # registry_host, plain HTTP: "10.200.0.2:5000"
    secure_host: str  # TLS + basic auth: "10.200.0.2:5443"
    username: str
    password: str
    ca_file: Path  # the lab CA that signed the secure registry's certificate
    files_repo: str  # "http://10.200.0.2:8080"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def secure_url(self) -> str:
        return f"https://{self.secure_host}"


class Lab:
    def __init__(self, layout: Layout, state: LabState):
        self.layout = layout
        self.state = state

    # -- what tests and the CLI read ------------------------------------
    @property
    def prefix(self) -> str:
        return self.layout.prefix

    @property
    def inventory_dir(self) -> Path:
        return self.layout.inventory_dir

    @property
    def kubespray_dir(self) -> str:
        return self.state.kubespray_dir

    @property
    def nodes(self) -> list[Node]:
        return self.state.nodes

    @property
    def expected(self) -> ExpectedState:
        if self.state.expected is None:
            raise LabError(f"lab {self.prefix} has no expected state yet (lab up did not finish)")
        return self.state.expected

    @property
    def registry(self) -> RegistryInfo:
        pki = pki_ops.load(self.layout.pki_dir)
        return RegistryInfo(self.layout.registry_host, self.layout.secure_registry_host, pki.username,
                            pki.password, pki.ca_cert, self.layout.files_repo)

    @property
    def images(self) -> dict[str, ImageRecord]:
        """What the lab pushed, by "repository:tag" (repository without the registry host)."""
        return self.state.images

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LabError(f"lab {self.prefix} has no node {name!r} (nodes: {', '.join(n.name for n in self.nodes)})")

    # -- life cycle --------------------------------------------------------
    @classmethod
    def up(cls, prefix: str = DEFAULT_PREFIX, nodes: int = 3, runtimes: Sequence[str] = RUNTIMES,
           kubespray_dir: Optional[str] = None, realistic_sizes: bool = False, pin_digests: bool = False,
           log: Callable[[str], None] = lambda message: None) -> "Lab":
        """Bring lab `prefix` up (after bringing down whatever that prefix left behind).

        pin_digests: also write `*_digest_checksum` pins for three images (see _pins). Kubespray
        has not enforced them since v2.28, which the suite reports; a lab without pins is clean.
        """
        layouts.check_prefix(prefix)
        runtimes = layouts.parse_runtimes(runtimes)
        names = layouts.node_names(nodes)
        kubespray_dir = _kubespray_dir(kubespray_dir)
        _check_host()
        leftovers = cleanup.teardown(prefix)
        if leftovers:
            log(f"removed what lab {prefix} had left: {leftovers.summary()}")
        try:
            with netns.subnet_lock():
                layout = Layout(prefix, netns.pick_subnet(prefix))
                layout.home.mkdir(parents=True)
                layout.logs_dir.mkdir()
                lab = cls(layout, LabState(prefix, str(layout.subnet), kubespray_dir,
                                           realistic_sizes=realistic_sizes, pin_digests=pin_digests))
                lab.state.save(layout)
                netns.create_hub(layout)
            lab._build(names, runtimes, log)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                cleanup.teardown(prefix)
            raise
        return lab

    @classmethod
    def attach(cls, prefix: str = DEFAULT_PREFIX) -> "Lab":
        """The running lab `prefix`, from its state file."""
        layouts.check_prefix(prefix)
        recorded = states.load(prefix)
        if recorded is None:
            raise LabError(f"lab {prefix} is not up (no {layouts.lab_home(prefix) / 'state.json'})")
        return cls(Layout(prefix, _network(recorded.subnet)), recorded)

    def down(self) -> cleanup.Leftovers:
        return cleanup.teardown(self.prefix)

    # -- drift ------------------------------------------------------------
    def drift(self, node: str, kind: str, item: Optional[str] = None) -> states.DriftRecord:
        """Make `node` differ from the expected state in one way (see drift.KINDS); undone by heal()."""
        record = drift.apply(self, self.node(node), kind, item)
        self.state.drifts.append(record)
        self.state.save(self.layout)
        return record

    def heal(self, node: Optional[str] = None, item: Optional[str] = None,
             kind: Optional[str] = None) -> list[states.DriftRecord]:
        """Undo the recorded drifts, of `node`, `item` and `kind` when given (all of them by default)."""
        healed = [d for d in self.state.drifts if (node is None or d.node == node)
                  and (item is None or d.item == item) and (kind is None or d.kind == kind)]
        for record in reversed(healed):
            drift.undo(self, self.node(record.node), record)
            self.state.drifts.remove(record)
            self.state.save(self.layout)
        return healed

    # -- the runner's docker daemon (download_localhost) ----------------------
    def runner_docker(self) -> str:
        """Start (once) a docker daemon standing for the runner's own, and give its DOCKER_HOST.

        It runs in namespaces of its own on the lab's network (so it reaches the lab's registries, and
        nothing of this machine's /etc/docker or /run is touched); the runner reaches its socket through
        /proc/<pid>/root. Stopped with the lab.
        """
        node = self.state.runner_docker
        if node is None or not (node.init and processes.alive(node.init)):
            pki = pki_ops.load(self.layout.pki_dir)
            access = RegistryAccess(self.layout.registry_host, self.layout.secure_registry_host, pki)
            node = Node(RUNNER_DOCKER, RUNNER_DOCKER_INDEX, self.layout.node_ip(RUNNER_DOCKER_INDEX), "docker", (),
                        str(self.layout.ssh_dir / "id_ed25519"))
            netns.create_node(self.layout, node.name, node.index)
            node_ops.prepare(self.layout, node, access, self.layout.ssh_dir / "authorized_keys")
            node_ops.start_init(self.layout, node)
            self._record([node.init])
            node_ops.wait_init(self.layout, node)
            records = node_ops.start_daemons(self.layout, node)
            self._record(records)
            node_ops.wait_daemons(self.layout, node, records)
            self.state.runner_docker = node
            self.state.save(self.layout)
        return f"unix://{node.path('/run/docker.sock')}"

    # -- mirrors ------------------------------------------------------------
    def stop_mirror(self, name: str) -> None:
        """Stop one of the hub's mirrors (registry, secure-registry, files_repo) by its recorded PID."""
        record = self._mirror_record(name)
        processes.stop([record])
        self.state.processes.remove(record)
        self.state.save(self.layout)

    def start_mirror(self, name: str) -> None:
        """Start a mirror stopped by stop_mirror; a running one is left alone."""
        role = f"hub/{name}"
        if any(r.role == role and processes.alive(r) for r in self.state.processes):
            return
        self.state.processes = [r for r in self.state.processes if r.role != role]
        self._record([servers.start_one(self.layout, pki_ops.load(self.layout.pki_dir), name)])

    def _mirror_record(self, name: str) -> processes.ProcessRecord:
        if name not in servers.MIRRORS:
            raise LabError(f"lab {self.prefix} has no mirror {name!r} (mirrors: {', '.join(servers.MIRRORS)})")
        for record in self.state.processes:
            if record.role == f"hub/{name}" and processes.alive(record):
                return record
        raise LabError(f"lab {self.prefix}: mirror {name} is not running")

    # -- building ---------------------------------------------------------
    def _build(self, names: list[str], runtimes: tuple[str, ...], log: Callable[[str], None]) -> None:
        layout, started = self.layout, time.monotonic()

        def step(message: str) -> None:
            log(f"[{time.monotonic() - started:5.1f}s] {message}")

        pki = pki_ops.create(layout.pki_dir, [layout.hub_ip], f"kubespray-verify {layout.prefix}")
        ssh_key = _ssh_key(layout)
        self._record(servers.start_all(layout, pki))
        step(f"mirrors up in {layout.hub_netns}: registry {layout.registry_host}, "
             f"secure registry {layout.secure_registry_host}, files_repo {layout.files_repo}")

        access = RegistryAccess(layout.registry_host, layout.secure_registry_host, pki)
        count = len(names)
        self.state.nodes = [Node(name, i, layout.node_ip(i), layouts.node_runtime(i, runtimes),
                                 layouts.node_groups(i, count), str(ssh_key)) for i, name in enumerate(names)]
        for node in self.nodes:
            netns.create_node(layout, node.name, node.index)
            node_ops.prepare(layout, node, access, layout.ssh_dir / "authorized_keys")
            node_ops.start_init(layout, node)
            self._record([node.init])
        for node in self.nodes:
            node_ops.wait_init(layout, node)
        daemons = {node.name: node_ops.start_daemons(layout, node) for node in self.nodes}
        self._record([r for records in daemons.values() for r in records])
        for node in self.nodes:
            node_ops.wait_daemons(layout, node, daemons[node.name])
        step(f"{count} nodes up ({', '.join(f'{n.name}={n.runtime}' for n in self.nodes)})")

        inventory.write(layout, self.nodes, pki, ssh_key)
        first = self._resolve()
        step(f"inventory {layout.inventory_dir} resolved against {self.kubespray_dir}")
        sources = self._publish_files(first)
        built = self._publish_images(first, pki)
        step(f"mirrors filled: {len(sources)} files, {len(self.images)} images")
        inventory.write_pins(layout, *self._pins(first, built))
        self.state.expected = self._resolve()
        _check_consistent(self.state.expected, self.state.files, built)
        self.state.save(layout)
        step("checksums and digest pins written; Kubespray now expects the lab's files and images")

        with ThreadPoolExecutor(min(PARALLEL_NODES, count)) as pool:
            list(pool.map(lambda n: deploy.deploy(n, self.expected.hosts[n.name], sources), self.nodes))
        self.state.phase = "up"
        self.state.save(layout)
        step("nodes deployed: files at their dest, images pulled through the registry")

    def _record(self, records: list[processes.ProcessRecord]) -> None:
        self.state.processes.extend(records)
        self.state.save(self.layout)

    def _resolve(self) -> ExpectedState:
        from kubespray_verify.resolve.expected import resolve

        # The nodes run on this machine's kernel: these are their facts.
        facts = {n.name: {"architecture": platform.machine(), "system": platform.system()} for n in self.nodes}
        expected = resolve([str(self.inventory_dir)], self.kubespray_dir, node_facts=facts)
        for host in expected.hosts.values():
            if host.errors:
                e = host.errors[0]
                raise LabError(f"Kubespray's download item {e.name} does not resolve for {host.host}: {e.error}")
        return expected

    def _publish_files(self, expected: ExpectedState) -> dict[str, Path]:
        sources: dict[str, Path] = {}
        for item in _unique(expected, FileItem, key=lambda i: i.url):
            artifact = artifacts.write(self.layout.files_repo_dir, self.layout.files_repo, item,
                                       self.state.realistic_sizes)
            sources[item.url] = artifact.path
            self.state.files[item.url] = artifact.sha256
        return sources

    def _publish_images(self, expected: ExpectedState, pki: pki_ops.Pki) -> dict[str, images.BuiltImage]:
        """Build every image the nodes need and push it to both registries; "ref" -> image."""
        items = sorted(_unique(expected, ImageItem, key=lambda i: i.reference), key=lambda i: i.reference)
        built = {}
        for index, item in enumerate(items):
            repository = _registry_path(item, self.layout.registry_host)
            # Deal the four styles in turn: OCI index, Docker list, single OCI, single Docker.
            built[item.reference] = images.build(repository, item.tag, images.STYLES[index % len(images.STYLES)])

        registries = [(f"http://{self.layout.registry_host}", {}),
                      (f"https://{self.layout.secure_registry_host}",
                       {"credentials": (pki.username, pki.password), "verify": str(pki.ca_cert)})]

        def push(image: images.BuiltImage) -> None:
            for url, options in registries:
                with RegistryClient(url, **options) as client:
                    client.push(image.repository, image.tag, image.artifact)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(push, built.values()))
        for image in built.values():
            self.state.images[f"{image.repository}:{image.tag}"] = ImageRecord(
                image.repository, image.tag, image.style, image.digest, image.platform_digest(),
                image.config_digest())
        return built

    def _pins(self, expected: ExpectedState, built: dict[str, images.BuiltImage]):
        """Inventory values: each file item's checksum variable, and image digest pins when asked for."""
        variables = checksum_vars(self.kubespray_dir)
        checksums: dict[str, str] = {}
        for item in _unique(expected, FileItem, key=lambda i: i.name):
            var = variables.get(item.name)
            if var is None or var.file_var is None:
                raise LabError(f"download item {item.name}: its checksum is not read from an overridable "
                               "*_checksum variable, so the lab cannot make it match its file; "
                               "choose settings that disable it")
            sha = self.state.files[item.url]
            checksums[var.file_var] = f"sha256:{sha}" if var.prefixed else sha
        if not self.state.pin_digests:
            return checksums, {}
        # Pin three images the three ways operators do: a multi-arch index digest as bare hex, a
        # multi-arch image's amd64 manifest digest as sha256:hex, a single-arch manifest digest.
        pinnable = sorted((i for i in _unique(expected, ImageItem, key=lambda i: i.name)
                           if variables.get(i.name) and variables[i.name].digest_var), key=lambda i: i.name)
        multi = [i for i in pinnable if built[i.reference].multi_arch]
        single = [i for i in pinnable if not built[i.reference].multi_arch]
        choices = [(multi[:1], lambda b: b.digest.split(":", 1)[1]), (multi[1:2], lambda b: b.platform_digest()),
                   (single[:1], lambda b: b.digest)]
        digests = {variables[i.name].digest_var: pick(built[i.reference]) for items, pick in choices for i in items}
        return checksums, digests


# -- status -----------------------------------------------------------------

def status(prefix: str = DEFAULT_PREFIX) -> dict:
    """What is running for lab `prefix`: processes, nodes (link, sshd), mirrors; works on a half-built lab too."""
    found = cleanup.find(prefix)
    recorded = states.load(prefix)
    report = {"prefix": prefix, "phase": recorded.phase if recorded else None,
              "subnet": recorded.subnet if recorded else None,
              "processes": len(found.processes), "namespaces": found.namespaces, "links": found.links,
              "nodes": []}
    if recorded is None:
        return report
    lab = Lab(Layout(prefix, _network(recorded.subnet)), recorded)
    by_role = {r.role: processes.alive(r) for r in recorded.processes}
    for node in lab.nodes:
        linked = (lab.layout.node_netns(node.name) in found.namespaces
                  and netns.node_link_up(lab.layout, node.name))
        report["nodes"].append({
            "name": node.name, "ip": node.ip, "runtime": node.runtime, "groups": list(node.groups),
            "link": "up" if linked else "down",
            "processes": {role.split("/")[1]: up for role, up in by_role.items() if role.startswith(node.name + "/")},
        })
    report["mirrors"] = {role.split("/")[1]: up for role, up in by_role.items() if role.startswith("hub/")}
    if recorded.phase == "up":
        report["registry"] = lab.registry.url
        report["secure_registry"] = lab.registry.secure_url
        report["files_repo"] = lab.registry.files_repo
        report["inventory"] = str(lab.inventory_dir)
    report["drifts"] = [d.to_json() for d in recorded.drifts]
    return report


# -- helpers ----------------------------------------------------------------

def _unique(expected: ExpectedState, kind, key) -> list:
    seen = {}
    for host in expected.hosts.values():
        for item in host.items:
            if isinstance(item, kind):
                seen.setdefault(key(item), item)
    return list(seen.values())


def _registry_path(item: ImageItem, registry_host: str) -> str:
    if not item.repo.startswith(registry_host + "/"):
        raise LabError(f"image item {item.name}: repo {item.repo} is not in registry_host {registry_host}; "
                       "the lab serves images from its registry only")
    return item.repo[len(registry_host) + 1:]


def _check_consistent(expected: ExpectedState, files: dict[str, str], built: dict[str, images.BuiltImage]) -> None:
    """After the pins are written, Kubespray must expect exactly what the lab serves."""
    for host in expected.hosts.values():
        for item in host.items:
            if isinstance(item, FileItem) and item.checksum != f"sha256:{files.get(item.url)}":
                raise LabError(f"{host.host}: download item {item.name} expects {item.checksum}, "
                               f"the lab serves sha256:{files.get(item.url)}")
            if isinstance(item, ImageItem) and item.digest:
                image = built.get(item.reference)
                if image is None or item.digest not in (image.digest, image.platform_digest()):
                    raise LabError(f"{host.host}: image item {item.name} pins {item.digest}, "
                                   f"not a digest of the lab's {item.reference}")


def _ssh_key(layout: Layout) -> Path:
    layout.ssh_dir.mkdir(parents=True, exist_ok=True)
    key = layout.ssh_dir / "id_ed25519"
    processes.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kubespray-verify-{layout.prefix}",
                   "-f", key])
    shutil.copyfile(key.with_suffix(".pub"), layout.ssh_dir / "authorized_keys")
    return key


def _kubespray_dir(given: Optional[str]) -> str:
    path = given or os.environ.get("KUBESPRAY_DIR")
    if not path:
        raise LabError("the lab needs a Kubespray tree: give --kubespray-dir or set KUBESPRAY_DIR")
    from kubespray_verify.resolve.tree import locate

    return str(locate(path, []).root)


def _check_host() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mount namespaces, daemons)")
    missing = [p for p in REQUIRED_PROGRAMS if not Path(p).exists()]
    if missing:
        raise LabError(f"missing {', '.join(missing)}: run `kubespray-verify lab deps`")


def _network(subnet: str):
    import ipaddress

    return ipaddress.IPv4Network(subnet)
