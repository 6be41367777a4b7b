"""Planning a fix: what failed, the nodes' image stores and Kubespray's download mode → the actions (pure).

Nothing here does I/O: the plan is built from values (the expected state, what
the observation found, which files the runner's cache holds) and is executed
by `fix/execute.py`. Only items whose check failed are planned; an item that
passes is never touched, and one that could not be judged (an error) is left
with its reason.

The download mode is read as Kubespray's download role reads it:

- default: each node fetches its own missing items (pulls through its own
  runtime and mirror configuration, downloads each file from its `url`);
- `download_run_once`: the `download_delegate` (default: the first
  `kube_control_plane` host) pulls each missing image once, and it is pushed,
  node to runner to node, only to the hosts that miss it (the delegate
  included when it misses it); files are downloaded once by the delegate into
  the runner's cache (`download_cache_dir`) and copied from there;
- `download_localhost`: the runner is the delegate: images come through the
  runner's own docker daemon, files are downloaded by the runner;
- `download_force_cache`: what the runner's cache holds is used; what it does
  not hold is fetched once (by the delegate) and put there.

The runner's cache is filled with Kubespray's own names (images:
`<download_cache_dir>/images/<repo>_<tag>.tar`, `/` and `:` turned into `_`;
files: `<download_cache_dir>/<basename of dest>`), so a cache the fix fills
serves a later Kubespray run and the other way round.

An image the node already holds under another name with the right content
(the pinned digest, or the digest the registry serves for its reference) is
tagged, not transferred; a file with the right content but another mode or
owner is corrected, not downloaded.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

from kubespray_verify.model import DownloadDelegate, ExpectedState, FileItem, ImageItem, Item
from kubespray_verify.redact import redact_url
from kubespray_verify.refs import parse_reference
from kubespray_verify.runtimes.commands import RuntimeCommands, for_runtime
from kubespray_verify.runtimes.parsers import NodeImage

RUNNER = "runner"  # where the runner itself acts (its docker daemon, its cache, its downloads)

# Action kinds, in Kubespray's words where it has them.
TAG = "tag"  # the node holds the content under another name: name it
PULL = "pull"  # the node's runtime pulls the image from its registry (by digest where pinned)
PUSH = "push"  # an image streamed from a source (a node, the runner's docker, the cache) to the nodes that miss it
CACHE_IMAGE = "cache"  # an image saved into the runner's cache under Kubespray's file name
DOWNLOAD = "download"  # the node downloads the file from its url to its dest
FETCH = "fetch"  # the delegate (or the runner) downloads the file into the runner's cache
COPY = "copy"  # the file copied from the runner's cache to the nodes' dest
CORRECT = "correct"  # mode and owner set, no download


@dataclass(frozen=True)
class DownloadMode:
    """Kubespray's download settings, as the download role reads them for the whole run."""

    run_once: bool = False
    delegate: Optional[str] = None  # download_delegate: an inventory host, "localhost", or None
    localhost: bool = False
    force_cache: bool = False
    cache_dir: str = "/tmp/kubespray_cache"
    retries: int = 4
    validate_certs: bool = True

    @classmethod
    def of(cls, download: DownloadDelegate) -> "DownloadMode":
        return cls(run_once=download.run_once, delegate=download.delegate_host or download.host,
                   localhost=download.localhost, force_cache=download.force_cache,
                   cache_dir=download.cache_dir, retries=download.retries,
                   validate_certs=download.validate_certs)

    @property
    def name(self) -> str:
        if self.run_once and self.localhost:
            return "download_run_once with download_localhost (the runner downloads)"
        if self.run_once:
            return f"download_run_once (download_delegate {self.delegate})"
        if self.force_cache:
            return f"download_force_cache ({self.cache_dir})"
        return "default (each node downloads its own)"

    @property
    def files_through_cache(self) -> bool:
        # download_file.yml: download_force_cache is set true under download_run_once.
        return self.run_once or self.force_cache

    @property
    def images_through_cache(self) -> bool:
        return self.force_cache


@dataclass(frozen=True)
class NodeState:
    """What the plan needs of one host: its runtime, platform and image store, or why it cannot be reached."""

    host: str
    runtime: Optional[str]  # Kubespray's container_manager
    arch: str  # image_arch: amd64, arm64...
    images: tuple[NodeImage, ...] = ()
    certs_dir: Optional[str] = None  # containerd: <containerd_cfg_dir>/certs.d
    error: Optional[str] = None  # unreachable, image list unreadable...

    @property
    def platform(self) -> str:
        return f"linux/{self.arch}"


@dataclass(frozen=True)
class Failure:
    """A (host, item) whose check failed; for files, what was found at dest."""

    host: str
    item: Item
    exists: bool = False  # files: something is at dest
    content_ok: bool = False  # files: the checksum matches (only mode or owner is wrong)
    wrong: tuple[str, ...] = ("mode", "owner")  # files with the right content: what is to be set


@dataclass(frozen=True)
class Action:
    kind: str
    item: str  # the download item's name
    host: str  # where the action runs: an inventory host, or RUNNER
    targets: tuple[str, ...]  # the hosts whose check of `item` this action fixes (with those after it)
    source: str  # where the content comes from, for the operator: registry reference, URL, host, cache file
    commands: tuple[str, ...]  # the exact commands, as "where: command", in order
    # What the executor needs (kind-dependent).
    ref: Optional[str] = None  # images: repo:tag
    digest: Optional[str] = None
    platform: Optional[str] = None
    from_ref: Optional[str] = None  # tag: the name the node holds it under; push: the name exported
    url: Optional[str] = None
    dest: Optional[str] = None
    checksum: Optional[str] = None
    mode: Optional[str] = None
    owner: Optional[str] = None
    unarchive: bool = False
    cache_path: Optional[str] = None  # runner's cache file: written (cache, fetch) or read (push, copy)
    argv: tuple[tuple[str, ...], ...] = ()  # pull/tag/correct: the argv lists run on `host`
    import_argv: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # push: target -> import argv
    export_argv: tuple[str, ...] = ()  # push/cache: argv run on `host` writing the stream

    def describe(self) -> str:
        """One line for the operator: what, from where, to which nodes."""
        to = ", ".join(self.targets)
        return {
            TAG: f"tag {self.from_ref} as {self.ref} on {self.host}",
            PULL: f"pull {self.source} on {self.host}" + (f" (for {to})" if self.targets != (self.host,) else ""),
            PUSH: f"push {self.ref} from {self.source} to {to}",
            CACHE_IMAGE: f"save {self.ref} from {self.source} into the runner's cache {self.cache_path}",
            DOWNLOAD: f"download {self.source} to {self.dest} on {self.host}",
            FETCH: f"download {self.source} on {self.host} into the runner's cache {self.cache_path}",
            COPY: f"copy {self.cache_path} to {self.dest} on {to}",
            CORRECT: f"set {self._mode_owner()} of {self.dest} on {self.host}",
        }[self.kind]

    def _mode_owner(self) -> str:
        parts = ([f"mode {self.mode}"] if self.mode else []) + ([f"owner {self.owner}"] if self.owner else [])
        return " and ".join(parts) or "mode and owner"


@dataclass(frozen=True)
class Chain:
    """Actions done in order for one item (one image content, one file): a later one needs the earlier."""

    item: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Unfixable:
    host: str
    item: str
    reason: str


@dataclass
class Plan:
    mode: DownloadMode
    chains: list[Chain] = field(default_factory=list)
    unfixable: list[Unfixable] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for chain in self.chains for a in chain.actions]

    @property
    def empty(self) -> bool:
        return not self.chains

    def by_node(self) -> dict[str, list[Action]]:
        """Each action under the node (or the runner) that runs it, in plan order."""
        grouped: dict[str, list[Action]] = {}
        for action in self.actions:
            grouped.setdefault(action.host, []).append(action)
        return {host: grouped[host] for host in sorted(grouped, key=lambda h: (h == RUNNER, h))}


# -- Kubespray's names ---------------------------------------------------------


def image_reponame(item: ImageItem, pulls_by_digest: Optional[bool]) -> str:
    """set_container_facts.yml's image_reponame: repo@sha256:hex when Kubespray pulls by digest, else repo:tag."""
    if pulls_by_digest and item.digest:
        return f"{item.repo}@{item.digest}"
    return item.reference


def image_cache_name(item: ImageItem, pulls_by_digest: Optional[bool]) -> str:
    """The image's file under download_cache_dir: `images/` + image_reponame with `/`, NUL and `:` as `_`, `.tar`."""
    return "images/" + re.sub(r"/|\0|:", "_", image_reponame(item, pulls_by_digest)) + ".tar"


def file_cache_name(item: FileItem) -> str:
    """download_file.yml's file_path_cached: download_cache_dir / the basename of dest."""
    return posixpath.basename(item.dest)


# -- planning ----------------------------------------------------------------------


def plan(
    state: ExpectedState,
    nodes: Mapping[str, NodeState],
    failures: Iterable[Failure],
    mode: Optional[DownloadMode] = None,
    cached: Iterable[str] = (),
    registry_digests: Optional[Mapping[str, str]] = None,
) -> Plan:
    """The actions that make every failed (host, item) right, in Kubespray's download mode.

    `cached`: the files the runner's cache holds (names relative to download_cache_dir).
    `registry_digests`: reference → the digest its registry serves, for images pinned by no digest
    (an image the node holds under another name is then known to be the same content).
    """
    mode = mode or DownloadMode.of(state.download)
    result = Plan(mode)
    cached = frozenset(cached)
    digests = dict(registry_digests or {})
    images: dict[tuple, list[Failure]] = {}
    files: dict[tuple, list[Failure]] = {}
    for failure in failures:
        node = nodes.get(failure.host)
        if node is None or node.error:
            why = node.error if node is not None and node.error else "not observed"
            result.unfixable.append(Unfixable(failure.host, failure.item.name, why))
            continue
        item = failure.item
        if isinstance(item, ImageItem):
            images.setdefault((item.repo, item.tag, item.digest, node.platform), []).append(failure)
        else:
            files.setdefault((item.url, item.checksum, item.dest), []).append(failure)
    for key in sorted(images, key=lambda k: (k[0], k[1], k[3])):
        _plan_image(result, state, nodes, images[key], mode, cached, digests)
    for key in sorted(files, key=lambda k: (k[2], k[0])):
        _plan_file(result, nodes, files[key], mode, cached)
    return result


def _commands(node: NodeState) -> RuntimeCommands:
    return for_runtime(node.runtime, certs_dir=node.certs_dir)


def _where(host: str, argv: Sequence[str]) -> str:
    return f"{host}: {' '.join(argv)}"


def holder_name(node: NodeState, item: ImageItem, registry_digest: Optional[str]) -> Optional[str]:
    """A name under which the node holds the item's content, when it does (the pinned digest, else the
    digest the registry serves for the item's reference)."""
    want = item.digest or registry_digest
    if not want:
        return None
    wanted = parse_reference(item.reference)
    for image in node.images:
        if want in image.digests and image.names and wanted not in image.names:
            return str(sorted(image.names, key=str)[0])
    return None


def holds(node: NodeState, item: ImageItem, registry_digest: Optional[str]) -> bool:
    """Whether the node holds the item's content under the item's own name."""
    wanted = parse_reference(item.reference)
    want = item.digest or registry_digest
    for image in node.images:
        if wanted in image.names:
            return want is None or want in image.digests
    return False


def _plan_image(result: Plan, state: ExpectedState, nodes: Mapping[str, NodeState], failed: list[Failure],
                mode: DownloadMode, cached: frozenset, digests: Mapping[str, str]) -> None:
    item: ImageItem = failed[0].item  # type: ignore[assignment]
    ref = item.reference
    platform = nodes[failed[0].host].platform
    registry_digest = digests.get(ref)
    pull_ref = f"{item.repo}@{item.digest}" if item.digest else ref
    cache_name = image_cache_name(item, state.pulls_by_digest)
    cache_path = posixpath.join(mode.cache_dir, cache_name)
    actions: list[Action] = []
    missing: list[str] = []
    for failure in failed:
        node = nodes[failure.host]
        try:
            commands = _commands(node)
        except ValueError as exc:
            result.unfixable.append(Unfixable(failure.host, item.name, str(exc)))
            continue
        other = holder_name(node, item, registry_digest)
        if other:
            argv = commands.tag(other, ref)
            actions.append(Action(TAG, item.name, node.host, (node.host,), other, (_where(node.host, argv),),
                                  ref=ref, digest=item.digest, platform=platform, from_ref=other,
                                  argv=(tuple(argv),)))
        else:
            missing.append(node.host)
    if actions:
        result.chains.extend(Chain(item.name, (a,)) for a in actions)
    if not missing:
        return

    def pull_on(host: str, targets: tuple[str, ...]) -> Action:
        steps = _commands(nodes[host]).pull_steps(item.repo, item.tag, item.digest)
        return Action(PULL, item.name, host, targets, pull_ref, tuple(_where(host, s) for s in steps),
                      ref=ref, digest=item.digest, platform=platform, argv=tuple(tuple(s) for s in steps))

    def push_from(source_host: str, source_label: str, export: Sequence[str], targets: Sequence[str],
                  from_cache: bool = False) -> Action:
        imports = {t: tuple(_commands(nodes[t]).import_(nodes[t].platform)) for t in targets}
        shown = source_label if from_cache else source_host
        commands = tuple(f"{_stream_source(source_host, export, from_cache, cache_path)} | {_where(t, argv)}"
                         for t, argv in imports.items())
        return Action(PUSH, item.name, source_host, tuple(targets), shown, commands, ref=ref,
                      digest=item.digest, platform=platform, from_ref=ref, export_argv=tuple(export),
                      import_argv=imports, cache_path=cache_path if from_cache else None)

    def cache_from(source_host: str, export: Sequence[str]) -> Action:
        command = f"{_stream_source(source_host, export, False, None)} > {RUNNER}: {cache_path}"
        return Action(CACHE_IMAGE, item.name, source_host, (), source_host if source_host != RUNNER else
                      "the runner's docker", (command,), ref=ref, digest=item.digest, platform=platform,
                      from_ref=ref, export_argv=tuple(export), cache_path=cache_path)

    if mode.images_through_cache and cache_name in cached:
        # download_force_cache with the image in the cache: every node loads it from there.
        result.chains.append(Chain(item.name, (push_from(RUNNER, cache_path, (), missing, from_cache=True),)))
        return

    if mode.localhost and mode.run_once:
        export = ("docker", "save", ref)  # through the docker Python package: the runner's daemon
        chain = [Action(PULL, item.name, RUNNER, tuple(missing), pull_ref,
                        (f"{RUNNER}: docker pull {pull_ref} (the runner's docker daemon)",) +
                        ((f"{RUNNER}: docker tag {pull_ref} {ref}",) if item.digest else ()),
                        ref=ref, digest=item.digest, platform=platform)]
        if mode.images_through_cache:
            chain.append(cache_from(RUNNER, export))
            chain.append(push_from(RUNNER, cache_path, (), missing, from_cache=True))
        else:
            chain.append(push_from(RUNNER, "the runner's docker", export, missing))
        result.chains.append(Chain(item.name, tuple(chain)))
        return

    delegate = mode.delegate if mode.run_once else None
    if delegate is None and mode.images_through_cache:
        # download_force_cache alone: the first node that misses it pulls, fills the cache, the rest load it.
        delegate = missing[0]
    if delegate is None:
        result.chains.extend(Chain(item.name, (pull_on(host, (host,)),)) for host in missing)
        return
    source = nodes.get(delegate)
    if source is None or source.error:
        why = source.error if source is not None and source.error else "not among the observed hosts"
        result.unfixable.extend(Unfixable(h, item.name, f"download_delegate {delegate}: {why}") for h in missing)
        return
    if source.platform != platform:
        # The delegate pulls its own platform only: nodes of another platform pull for themselves.
        result.chains.extend(Chain(item.name, (pull_on(host, (host,)),)) for host in missing)
        return
    chain = []
    others = [h for h in missing if h != delegate]
    export_name = ref
    if delegate in missing:
        chain.append(pull_on(delegate, (delegate,)))
    elif holds(source, item, registry_digest):
        pass  # the delegate holds it under its name: exported from there
    elif holder_name(source, item, registry_digest):
        export_name = holder_name(source, item, registry_digest)
    else:
        chain.append(pull_on(delegate, ()))
    export = tuple(_commands(source).export(export_name, platform))
    if mode.images_through_cache:
        chain.append(cache_from(delegate, export))
        if others:
            chain.append(push_from(RUNNER, cache_path, (), others, from_cache=True))
    elif others:
        chain.append(push_from(delegate, delegate, export, others))
    if export_name != ref and others:
        # Exported under the delegate's other name: each receiving node names it as Kubespray does.
        for host in others:
            argv = _commands(nodes[host]).tag(export_name, ref)
            chain.append(Action(TAG, item.name, host, (host,), export_name, (_where(host, argv),), ref=ref,
                                digest=item.digest, platform=platform, from_ref=export_name, argv=(tuple(argv),)))
    result.chains.append(Chain(item.name, tuple(chain)))


def _stream_source(host: str, export: Sequence[str], from_cache: bool, cache_path: Optional[str]) -> str:
    if from_cache:
        return f"{RUNNER}: {cache_path}"
    return _where(host, export) if host != RUNNER else f"{RUNNER}: docker save {export[-1]} (the runner's docker)"


def _plan_file(result: Plan, nodes: Mapping[str, NodeState], failed: list[Failure], mode: DownloadMode,
               cached: frozenset) -> None:
    item: FileItem = failed[0].item  # type: ignore[assignment]
    url = redact_url(item.url)
    common = dict(url=item.url, dest=item.dest, checksum=item.checksum, mode=item.mode, owner=item.owner,
                  unarchive=item.unarchive)
    fetch: list[Failure] = []
    for failure in failed:
        if failure.exists and failure.content_ok:
            set_mode = item.mode if "mode" in failure.wrong else None
            set_owner = item.owner if "owner" in failure.wrong else None
            command = _correct_command(item.dest, set_mode, set_owner)
            result.chains.append(Chain(item.name, (Action(
                CORRECT, item.name, failure.host, (failure.host,), item.dest, (_where(failure.host, command),),
                argv=(tuple(command),), **{**common, "mode": set_mode, "owner": set_owner}),)))
        else:
            fetch.append(failure)
    if not fetch:
        return
    hosts = tuple(f.host for f in fetch)
    if not mode.files_through_cache:
        for host in hosts:
            result.chains.append(Chain(item.name, (Action(
                DOWNLOAD, item.name, host, (host,), url,
                (f"{host}: download {url} -> {item.dest} (verify {item.checksum or 'no checksum'}, then rename)",),
                **common),)))
        return
    cache_name = file_cache_name(item)
    cache_path = posixpath.join(mode.cache_dir, cache_name)
    chain = []
    if cache_name not in cached:
        fetcher = RUNNER if mode.localhost else (mode.delegate or hosts[0])
        if fetcher != RUNNER:
            node = nodes.get(fetcher)
            if node is None or node.error:
                why = node.error if node is not None and node.error else "not among the observed hosts"
                result.unfixable.extend(Unfixable(h, item.name, f"download_delegate {fetcher}: {why}") for h in hosts)
                return
        chain.append(Action(FETCH, item.name, fetcher, (), url,
                            (f"{fetcher}: download {url} | {RUNNER}: {cache_path} (verify {item.checksum or 'no checksum'}, then rename)",),
                            cache_path=cache_path, **common))
    chain.append(Action(COPY, item.name, RUNNER, hosts, cache_path,
                        tuple(f"{RUNNER}: {cache_path} | {h}: {item.dest} (verify, then rename)" for h in hosts),
                        cache_path=cache_path, **common))
    result.chains.append(Chain(item.name, tuple(chain)))


def _correct_command(dest: str, mode: Optional[str], owner: Optional[str]) -> list[str]:
    steps = []
    if mode:
        steps += ["chmod", mode, dest]
    if owner:
        steps += (["&&"] if steps else []) + ["chown", owner, dest]
    return steps
