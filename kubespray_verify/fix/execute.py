"""Carrying out a fix plan over the nodes' connections.

Each chain of the plan (one image content, one file) runs on its own, several
at once; a chain that fails stops there and the hosts it was for get the
reason, while every other chain goes on. Within a chain:

- pull, tag: the node's runtime commands (`runtimes/commands.py`), a pull
  retried with backoff `download_retries` times;
- push: the source's export is read a chunk at a time and written into every
  receiving node's import at once (one export whatever the number of nodes);
  the source is a node, the runner's docker daemon (the `docker` package), or
  a tarball in the runner's cache;
- cache: an export written into the runner's cache under Kubespray's name
  (temporary file, then rename);
- download, fetch, copy, correct: the file script (`fix/file_script.py`) on
  the node or the runner: a temporary file in the dest directory, the
  checksum verified before the rename, then mode and owner.

Interrupted (SIGINT), every process under way is stopped; the receiving sides
drop their temporary files, and the runner's own temporary cache files are
removed, before the interrupt goes on. Credentials reach a node only on the
stdin of the command that needs them, never its command line or any output.
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait as wait_futures
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from kubespray_verify import defaults
from kubespray_verify.errors import VerifyError
from kubespray_verify.fix import file_script, streams
from kubespray_verify.fix.plan import (CACHE_IMAGE, COPY, CORRECT, DOWNLOAD, FETCH, PULL, PUSH, RUNNER, TAG, Action,
                                       Chain, Plan)
from kubespray_verify.fix.progress import Progress
from kubespray_verify.redact import redact_url
from kubespray_verify.refs import parse_reference


@dataclass
class Outcome:
    """What the fix did for one (host, item), or why it could not."""

    host: str
    item: str
    done: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # pulled, pushed, tagged, downloaded, copied, corrected
    error: Optional[str] = None

    @property
    def text(self) -> str:
        return "; ".join(self.done)


@dataclass
class Tally:
    """Per node: how many items were pulled, pushed, tagged, downloaded, copied, corrected, failed."""

    counts: dict = field(default_factory=dict)

    def add(self, host: str, what: str) -> None:
        per = self.counts.setdefault(host, {})
        per[what] = per.get(what, 0) + 1


class ActionFailed(VerifyError):
    pass


class Executor:
    def __init__(self, nodes: Mapping, *, settings: Optional[Mapping] = None, progress: Optional[Progress] = None,
                 docker_client: Optional[Callable] = None, concurrency: int = defaults.FIX_CONCURRENCY,
                 backoff: float = defaults.FIX_BACKOFF):
        self.nodes = nodes  # host → nodes.connection.Node
        self.settings = settings or {}  # host → resolve.host_settings.HostSettings (proxies, credentials)
        self.progress = progress or Progress(enabled=False)
        self._docker_factory = docker_client
        self._docker = None
        self.concurrency = concurrency
        self.backoff = backoff
        self.processes = streams.Processes()
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.tally = Tally()
        self._lock = threading.Lock()

    # -- the plan ------------------------------------------------------------
    def execute(self, plan: Plan) -> dict[tuple[str, str], Outcome]:
        self.mode = plan.mode
        for chain in plan.chains:
            for action in chain.actions:
                for host in action.targets:
                    self._outcome(host, action.item)
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(plan.chains) or 1)),
                                  thread_name_prefix="fix")
        futures = {pool.submit(self._run_chain, chain) for chain in plan.chains}
        try:
            pending = futures
            while pending:
                _, pending = wait_futures(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        except KeyboardInterrupt:
            self.processes.stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        for future in futures:
            future.result()  # a bug in a chain is a bug, not a silent pass
        self.progress.finish()
        return self.outcomes

    def _outcome(self, host: str, item: str) -> Outcome:
        with self._lock:
            return self.outcomes.setdefault((host, item), Outcome(host, item))

    def _run_chain(self, chain: Chain) -> None:
        context: dict = {}
        for index, action in enumerate(chain.actions):
            try:
                self._run(action, context)
            except streams.Interrupted:
                return
            except VerifyError as exc:
                reason = str(exc)
                later = {h for a in chain.actions[index + 1:] for h in a.targets}
                for host in set(action.targets) | later:
                    outcome = self._outcome(host, chain.item)
                    if host in action.targets or (outcome.error is None and not outcome.done):
                        outcome.error = outcome.error or reason
                        self.tally.add(host, "failed")
                return

    def _run(self, action: Action, context: dict) -> None:
        handler = {TAG: self._tag, PULL: self._pull, PUSH: self._push, CACHE_IMAGE: self._cache_image,
                   DOWNLOAD: self._download, FETCH: self._fetch, COPY: self._copy, CORRECT: self._correct}
        handler[action.kind](action, context)

    def _done(self, host: str, item: str, text: str, what: str) -> None:
        outcome = self._outcome(host, item)
        outcome.done.append(text)
        outcome.actions.append(what)
        self.tally.add(host, what)

    # -- commands ------------------------------------------------------------------
    def _command(self, host: str, argv) -> str:
        if host == RUNNER:
            return streams.local_command(argv)
        node = self.nodes.get(host)
        if node is None:
            raise ActionFailed(f"{host}: no connection for this host")
        return streams.node_command(node, argv)

    def _run_argv(self, host: str, argv, what: str, retries: int = 1) -> streams.Finished:
        attempts = max(1, retries)
        for attempt in range(1, attempts + 1):
            finished = streams.run(self.processes, self._command(host, argv))
            if finished.rc == 0:
                return finished
            if finished.rc == 255 and host != RUNNER:
                raise ActionFailed(f"{host}: unreachable: {finished.last_line() or 'ssh failed'}")
            if attempt < attempts:
                self._sleep(attempt)
        raise ActionFailed(f"{host}: {what} failed (exit {finished.rc}): "
                           f"{redact_url(finished.last_line() or finished.last_line('stdout'))}")

    def _sleep(self, attempt: int) -> None:
        delay = min(self.backoff * (2 ** (attempt - 1)), defaults.FIX_BACKOFF_CAP)
        if self.processes.stopping.wait(delay):
            raise streams.Interrupted()

    # -- images ----------------------------------------------------------------------
    def _tag(self, action: Action, context: dict) -> None:
        for argv in action.argv:
            self._run_argv(action.host, argv, f"tag {action.from_ref} as {action.ref}")
        self._done(action.host, action.item, f"tagged {action.from_ref} as {action.ref} on {action.host}", "tagged")

    def _pull(self, action: Action, context: dict) -> None:
        reference = parse_reference(action.ref)
        registry = reference.registry
        how = "by digest" if action.digest else f"by tag {reference.tag}"
        if action.host == RUNNER:
            self._docker_pull(action)
            context["pulled"] = f"pulled {how} from {registry} by the runner's docker"
            return
        for argv in action.argv:
            self._run_argv(action.host, argv, f"{' '.join(argv[:4])} {argv[-1]}", retries=self.mode.retries)
        text = f"pulled {how} from {registry} on {action.host}"
        context["pulled"] = text
        if action.host in action.targets:
            self._done(action.host, action.item, text, "pulled")

    def _push(self, action: Action, context: dict) -> None:
        source_name, reader, finish = self._source(action)
        receivers = []
        for target in action.targets:
            receiver = streams.Receiver(target)
            try:
                receiver.process = self.processes.start(self._command(target, action.import_argv[target]))
            except VerifyError as exc:
                receiver.error = str(exc)
            receivers.append(receiver)
        label = f"push {action.ref} from {source_name} to {', '.join(action.targets)}"
        try:
            with self.progress.transfer(label) as count:
                streams.fan_out(self.processes, reader, [r for r in receivers if r.process], count)
        finally:
            source_error = finish()
        via = context.get("pulled")
        for receiver in receivers:
            result = streams.wait(self.processes, receiver) if receiver.process else None
            error = receiver.error
            if error is None and source_error:
                error = source_error
            if error is None and result is not None and result.rc != 0:
                error = (f"{receiver.name}: import failed (exit {result.rc}): "
                         f"{result.last_line() or result.last_line('stdout')}")
            outcome = self._outcome(receiver.name, action.item)
            if error:
                outcome.error = error if error.startswith(receiver.name) else f"{receiver.name}: {error}"
                self.tally.add(receiver.name, "failed")
            else:
                text = f"pushed from {source_name} to {receiver.name}" + (f" ({via})" if via else "")
                self._done(receiver.name, action.item, text, "pushed")
        if source_error and all(r.error or source_error for r in receivers):
            raise ActionFailed(source_error)

    def _source(self, action: Action):
        """(name, read chunk, finish → error or None) of the stream a push or a cache save reads."""
        if action.cache_path and action.kind == PUSH:
            try:
                fh = open(action.cache_path, "rb")
            except OSError as exc:
                raise ActionFailed(f"runner: cannot read the cache {action.cache_path}: {exc.strerror}") from None

            def finish_file():
                fh.close()
                return None
            return f"the runner's cache {action.cache_path}", lambda: fh.read(streams.CHUNK), finish_file
        if action.host == RUNNER:
            try:
                chunks = iter(self._docker_client().api.get_image(action.from_ref, chunk_size=streams.CHUNK))
            except Exception as exc:  # the docker package's errors: APIError, DockerException, requests'
                raise ActionFailed(f"runner: docker save {action.from_ref}: {_docker_error(exc)}") from None
            failure: list = []

            def read_docker():
                try:
                    return next(chunks, None)
                except Exception as exc:
                    failure.append(f"runner: docker save {action.from_ref}: {_docker_error(exc)}")
                    return None
            return "the runner's docker", read_docker, lambda: failure[0] if failure else None
        process = self.processes.start(self._command(action.host, action.export_argv))
        err: list = []
        reader = streams.drain(process.stderr, err)

        def finish_process():
            try:
                process.stdout.close()
                rc = process.wait()
                reader.join(10)
            finally:
                self.processes.done(process)
            if rc != 0:
                detail = (err[0] if err else b"").decode(errors="replace").strip().splitlines()
                return f"{action.host}: export failed (exit {rc}): {detail[-1] if detail else 'no output'}"
            return None
        return action.host, lambda: process.stdout.read(streams.CHUNK), finish_process

    def _cache_image(self, action: Action, context: dict) -> None:
        source_name, reader, finish = self._source(action)
        with _cache_file(action.cache_path) as (fh, commit):
            receiver = streams.Receiver("runner", file=fh)
            try:
                with self.progress.transfer(f"save {action.ref} from {source_name} to {action.cache_path}") as count:
                    streams.fan_out(self.processes, reader, [receiver], count)
            finally:
                error = finish()
            if error or receiver.error:
                raise ActionFailed(error or f"runner: {action.cache_path}: {receiver.error}")
            commit()
        context.setdefault("pulled", f"saved from {source_name}")

    def _docker_client(self):
        if self._docker is None:
            if self._docker_factory is None:
                import docker

                self._docker_factory = lambda: docker.from_env(timeout=defaults.FIX_COMMAND_TIMEOUT)
            try:
                self._docker = self._docker_factory()
            except Exception as exc:
                raise ActionFailed(f"runner: the runner's docker daemon (download_localhost): {_docker_error(exc)}") from None
        return self._docker

    def _docker_pull(self, action: Action) -> None:
        client = self._docker_client()
        ref = parse_reference(action.ref)
        repository = action.ref.rsplit(":", 1)[0]
        attempts = max(1, self.mode.retries)
        for attempt in range(1, attempts + 1):
            try:
                client.api.pull(repository, tag=action.digest or ref.tag, platform=action.platform)
                if action.digest:
                    client.api.tag(f"{repository}@{action.digest}", repository, ref.tag)
                return
            except Exception as exc:
                if attempt == attempts:
                    raise ActionFailed(f"runner: docker pull {repository}@{action.digest or ref.tag}: "
                                       f"{_docker_error(exc)}") from None
                self._sleep(attempt)

    # -- files -----------------------------------------------------------------------
    def _request(self, action: Action, host: str, op: str, **extra) -> dict:
        settings = self.settings.get(host)
        request = {"op": op, "url": action.url, "dest": action.dest, "checksum": action.checksum,
                   "mode": action.mode, "owner": action.owner, "unarchive": action.unarchive,
                   "retries": self.mode.retries, "backoff": self.backoff, "backoff_cap": defaults.FIX_BACKOFF_CAP,
                   "validate_certs": getattr(settings, "validate_certs", self.mode.validate_certs)}
        if settings is not None:
            proxies = settings.proxies
            request["proxies"] = {"http_proxy": proxies.http or "", "https_proxy": proxies.https or "",
                                  "no_proxy": proxies.no_proxy or ""}
            credentials = settings.file_credentials.get(action.item)
            if credentials is not None:
                request["username"], request["password"] = credentials.username, credentials.password
        request.update(extra)
        return request

    def _script(self, host: str) -> str:
        python = self.nodes[host].python if host != RUNNER else "python3"
        return self._command(host, file_script.command(python))

    def _download(self, action: Action, context: dict) -> None:
        request = self._request(action, action.host, "download")
        with self.progress.transfer(f"download {redact_url(action.url)} on {action.host}"):
            finished = streams.run(self.processes, self._script(action.host), file_script.request_line(request),
                                   keep_stdin_open=True)
        answer = _answer(finished.stdout.decode(errors="replace"))
        if not answer.get("ok"):
            raise ActionFailed(_file_error(action.host, action, answer, finished))
        extra = f", {answer['extracted']} entries unpacked" if answer.get("extracted") is not None else ""
        self._done(action.host, action.item, f"downloaded from {redact_url(action.url)} on {action.host}{extra}",
                   "downloaded")

    def _fetch(self, action: Action, context: dict) -> None:
        request = self._request(action, action.host, "send")
        attempts = max(1, self.mode.retries)
        for attempt in range(1, attempts + 1):
            try:
                self._fetch_once(action, request)
                break
            except ActionFailed:
                if attempt == attempts:
                    raise
                self._sleep(attempt)
        who = "the runner" if action.host == RUNNER else action.host
        context["fetched"] = f"downloaded from {redact_url(action.url)} by {who}"

    def _fetch_once(self, action: Action, request: dict) -> None:
        import hashlib

        algo = (action.checksum or "sha256:").split(":", 1)[0]
        digest = hashlib.new(algo)
        process = self.processes.start(self._script(action.host))
        err: list = []
        reader = streams.drain(process.stderr, err)
        try:
            process.stdin.write(file_script.request_line(request))
            process.stdin.flush()
        except BrokenPipeError:
            pass

        def read():
            chunk = process.stdout.read(streams.CHUNK)
            digest.update(chunk)
            return chunk
        try:
            with _cache_file(action.cache_path) as (fh, commit):
                receiver = streams.Receiver("runner", file=fh)
                with self.progress.transfer(f"download {redact_url(action.url)} on {action.host} "
                                            f"into {action.cache_path}") as count:
                    streams.fan_out(self.processes, read, [receiver], count)
                rc = process.wait()  # stdin stays open until then: the script stops when it closes
                process.stdin.close()
                reader.join(10)
                answer = _answer((err[0] if err else b"").decode(errors="replace"))
                if rc != 0 or not answer.get("ok"):
                    raise ActionFailed(_file_error(action.host, action, answer,
                                                   streams.Finished(rc, b"", (err[0] if err else b"").decode(errors="replace"))))
                found = f"{algo}:{digest.hexdigest()}"
                if action.checksum and found != action.checksum.lower():
                    raise ActionFailed(f"{action.item}: checksum expected {action.checksum}, found {found} "
                                       f"(from {redact_url(action.url)}); the runner's cache was not changed")
                if receiver.error:
                    raise ActionFailed(f"runner: {action.cache_path}: {receiver.error}")
                commit()
        finally:
            self.processes.done(process)

    def _copy(self, action: Action, context: dict) -> None:
        try:
            size = os.path.getsize(action.cache_path)
            fh = open(action.cache_path, "rb")
        except OSError as exc:
            raise ActionFailed(f"runner: cannot read the cache {action.cache_path}: {exc.strerror}") from None
        receivers = []
        with fh:
            for target in action.targets:
                receiver = streams.Receiver(target)
                try:
                    receiver.process = self.processes.start(self._script(target))
                    receiver.process.stdin.write(file_script.request_line(self._request(action, target, "receive",
                                                                                        size=size)))
                except (VerifyError, OSError) as exc:
                    receiver.error = str(exc)
                receivers.append(receiver)
            with self.progress.transfer(f"copy {action.cache_path} to {', '.join(action.targets)}") as count:
                streams.fan_out(self.processes, lambda: fh.read(streams.CHUNK), [r for r in receivers if r.process],
                                count)
        via = context.get("fetched") or "already there"
        for receiver in receivers:
            result = streams.wait(self.processes, receiver) if receiver.process else None
            answer = _answer(result.stdout.decode(errors="replace")) if result else {}
            outcome = self._outcome(receiver.name, action.item)
            if receiver.error or not answer.get("ok"):
                outcome.error = (f"{receiver.name}: {receiver.error}" if receiver.error else
                                 _file_error(receiver.name, action, answer, result))
                self.tally.add(receiver.name, "failed")
            else:
                self._done(receiver.name, action.item,
                           f"copied from the runner's cache {action.cache_path} ({via}) to {receiver.name}", "copied")

    def _correct(self, action: Action, context: dict) -> None:
        finished = streams.run(self.processes, self._script(action.host),
                               file_script.request_line(self._request(action, action.host, "correct")))
        answer = _answer(finished.stdout.decode(errors="replace"))
        if not answer.get("ok"):
            raise ActionFailed(_file_error(action.host, action, answer, finished))
        what = " and ".join(p for p in ((f"mode set to {action.mode}" if action.mode else ""),
                                        (f"owner set to {action.owner}" if action.owner else "")) if p)
        self._done(action.host, action.item, f"{what} on {action.host}", "corrected")


class _cache_file:
    """A file of the runner's cache written as a temporary file beside it, renamed when committed, removed
    otherwise (an interrupted or failed save leaves the cache as it was)."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(self.path)}.",
                                            suffix=".kubespray-verify-fix")
        except OSError as exc:
            raise ActionFailed(f"runner: cannot write the cache {self.path}: {exc.strerror}") from None
        self.fh = os.fdopen(fd, "wb")
        self.committed = False

        def commit():
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
            self.committed = True
        return self.fh, commit

    def __exit__(self, *exc):
        if not self.committed:
            self.fh.close()
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
        return False


def _answer(text: str) -> dict:
    import json

    for line in reversed([line for line in text.splitlines() if line.strip()]):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return {}


def _file_error(host: str, action: Action, answer: dict, finished: Optional[streams.Finished]) -> str:
    if answer.get("error") == "checksum":
        return (f"{host}: {action.item}: checksum expected {answer.get('expected')}, found {answer.get('found')} "
                f"({answer.get('size')} bytes from {answer.get('url') or redact_url(action.url or '')}); "
                f"{action.dest} left as it was")
    if answer.get("error"):
        return f"{host}: {action.item}: {redact_url(str(answer['error']))}"
    if finished is not None and finished.rc == 255:
        return f"{host}: unreachable: {finished.last_line() or 'ssh failed'}"
    detail = finished.last_line() if finished is not None else ""
    return f"{host}: {action.item}: the file step failed" + (f" ({redact_url(detail)})" if detail else "")


def _docker_error(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return redact_url(str(explanation or exc).strip().splitlines()[-1] if str(explanation or exc).strip() else type(exc).__name__)
