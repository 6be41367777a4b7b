"""Real registries and file servers on 127.0.0.1, for any test module.

- `start_registry`: CNCF distribution (`docker-registry serve`), plain HTTP,
  TLS with a CA made here, htpasswd (bcrypt) or token auth.
- `TokenIssuer`: a token service signing JWTs the registry verifies against
  its `rootcertbundle`.
- `FileServer`: nginx serving a directory, like a files_repo.
- `ScriptedServer`: answers a script of statuses (429, 503...) and counts requests.
- `unresponsive_port` / `refusing_port`: a connect timeout and a refused connection, locally.

Every process is started in its own temp dir, on a port the kernel gave, and
stopped by its PID (with the lab's `processes`); certificates, htpasswd files
and registry configs are made as the lab makes its own (`lab.pki`,
`lab.mirrors.registry_config`). Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import re
import select
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest

from kubespray_verify.http.policy import Credentials
from kubespray_verify.lab import processes
from kubespray_verify.lab.errors import LabError
from kubespray_verify.lab.servers import registry_config
from kubespray_verify.lab.pki import KeyPair, make_ca, make_server_cert, write_htpasswd
from kubespray_verify.registry.client import RegistryClient

START_TIMEOUT = 10.0
LOOPBACK = "127.0.0.1"


def require(*binaries: str) -> None:
    """Skip (or fail, where the lab is required) when a server binary is missing."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        message = f"not installed: {', '.join(missing)} (kubespray-verify lab deps)"
        if os.environ.get("KUBESPRAY_VERIFY_REQUIRE_LAB"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- registry -----------------------------------------------------------


@dataclass
class RegistryServer:
    url: str
    host: str  # 127.0.0.1:port
    root: Path
    process: processes.ProcessRecord
    log: Path  # the registry's log, access log included
    ca: Optional[Path] = None
    credentials: Optional[Credentials] = None

    def client(self, **kwargs) -> RegistryClient:
        """A client trusting this registry's CA and holding its credentials, unless told otherwise."""
        kwargs.setdefault("verify", str(self.ca) if self.ca else True)
        kwargs.setdefault("credentials", self.credentials)
        return RegistryClient(self.url, **kwargs)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        processes.stop([self.process])


_LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")


def start_registry(
    directory: Path,
    *,
    tls: Optional[KeyPair] = None,
    htpasswd: Optional[Path] = None,
    token: Optional["TokenIssuer"] = None,
    ca: Optional[Path] = None,
    credentials: Optional[Credentials] = None,
) -> RegistryServer:
    """`docker-registry serve` on a port the kernel picks (read back from its log)."""
    require("docker-registry")
    directory.mkdir(parents=True, exist_ok=True)
    config = registry_config(f"{LOOPBACK}:0", directory / "data", tls=tls, htpasswd=htpasswd, log_level="info")
    if token:
        config["auth"] = {
            "token": {"realm": token.realm, "service": token.service, "issuer": token.issuer, "rootcertbundle": str(token.cert)}
        }
    cfg, log = directory / "config.yml", directory / "registry.log"
    cfg.write_text(json.dumps(config, indent=2))
    process, _ = processes.start("registry", ["docker-registry", "serve", str(cfg)], log)
    try:
        host = processes.wait_until("registry", lambda: _listening_address(log), timeout=START_TIMEOUT, dead=process, log=log)
    except LabError:
        processes.stop([process])
        raise
    return RegistryServer(f"{'https' if tls else 'http'}://{host}", host, directory, process, log, ca, credentials)


def _listening_address(log: Path) -> Optional[str]:
    """The registry's `127.0.0.1:port` once its log names it and it accepts connections there."""
    found = _LISTENING.search(log.read_text(errors="replace"))
    return found.group(1) if found and processes.listening(LOOPBACK, int(found.group(1).rpartition(":")[2])) else None


# --- token service ------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _ThreadedServer:
    """An http.server on 127.0.0.1 in a thread of the test process."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]):
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: Optional[dict] = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class TokenIssuer(_ThreadedServer):
    """A registry token service: Basic-authenticated users get what they ask for
    (`readers` only pull), anonymous callers get pull on `public/*` only, wrong
    passwords get 401.

    `answer_key` is the JSON field of the answer (`token`, or OAuth2's `access_token`).
    `requests` records (user or None, scopes) per token asked for.
    """

    service = "kubespray-verify-registry"
    issuer = "kubespray-verify-token-issuer"

    def __init__(self, directory: Path, users: dict[str, str], readers: frozenset = frozenset(), answer_key: str = "token"):
        from cryptography.hazmat.primitives import serialization

        directory.mkdir(parents=True, exist_ok=True)
        self.cert, key = directory / "token.pem", directory / "token.key"
        # RS256 needs an RSA key (the lab's CA keys are EC).
        processes.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-keyout", str(key), "-out", str(self.cert), "-subj", "/CN=kubespray-verify token signer",
        ])
        self._key = serialization.load_pem_private_key(key.read_bytes(), password=None)
        # x5c: the signing certificate (base64 DER, i.e. the PEM body); the registry
        # trusts it because the same certificate is its rootcertbundle.
        self._x5c = "".join(line for line in self.cert.read_text().splitlines() if not line.startswith("-----"))
        self.users = dict(users)
        self.readers = readers  # users granted pull only
        self.answer_key = answer_key
        self.requests: list[tuple[Optional[str], tuple[str, ...]]] = []
        super().__init__(_TokenHandler)
        self.realm = f"{self.url}/token"

    def sign(self, subject: str, access: list[dict]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer, "sub": subject, "aud": self.service, "iat": now, "nbf": now - 30, "exp": now + 600,
            "jti": uuid.uuid4().hex, "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def grant(self, user: Optional[str], scopes: tuple[str, ...]) -> list[dict]:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = actions.split(",")
            if user and user not in self.readers:
                allowed = wanted
            else:
                allowed = [a for a in wanted if a == "pull" and (user or name.startswith("public/"))]
            if allowed:
                access.append({"type": kind, "name": name, "actions": allowed})
        return access


class _TokenHandler(_QuietHandler):
    def do_GET(self) -> None:
        issuer: TokenIssuer = self.server.owner  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query)
        if parts.path != "/token" or dict(query).get("service") != issuer.service:
            return self.reply(404, b'{"errors":[{"code":"NOT_FOUND"}]}')
        user = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if issuer.users.get(name) != password:
                return self.reply(401, b'{"details":"invalid credentials"}', {"WWW-Authenticate": 'Basic realm="token"'})
            user = name
        scopes = tuple(v for k, v in query if k == "scope")
        issuer.requests.append((user, scopes))
        token = issuer.sign(user or "", issuer.grant(user, scopes))
        self.reply(200, json.dumps({issuer.answer_key: token, "expires_in": 600}).encode(), {"Content-Type": "application/json"})


# --- misbehaving servers and dead ends -----------------------------------------


@dataclass
class Hit:
    method: str
    path: str
    at: float  # time.monotonic()


class ScriptedServer(_ThreadedServer):
    """Answers each request with the next (status, headers) of `script`, after `delay`; the last one repeats.

    `hits` records every request, to count retries and measure the waits between them.
    """

    def __init__(self, script: list[tuple[int, dict]], delay: float = 0.0):
        self.script = list(script)
        self.delay = delay  # seconds before each answer
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        super().__init__(_ScriptedHandler)

    def next_answer(self, method: str, path: str) -> tuple[int, dict]:
        with self._lock:
            self.hits.append(Hit(method, path, time.monotonic()))
            return self.script[min(len(self.hits), len(self.script)) - 1]


class _ScriptedHandler(_QuietHandler):
    def _answer(self) -> None:
        server: ScriptedServer = self.server.owner  # type: ignore[attr-defined]
        status, headers = server.next_answer(self.command, self.path)
        time.sleep(server.delay)
        self.reply(status, b'{"errors":[{"code":"SCRIPTED"}]}', {"Content-Type": "application/json", **headers})

    do_GET = do_HEAD = do_POST = _answer


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port nothing listens on, held so that no one else takes it meanwhile: connections are refused."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        yield s.getsockname()[1]


@contextlib.contextmanager
def unresponsive_port() -> Iterator[int]:
    """A listening port whose accept queue is full and never drained: new connections time out."""
    with socket.socket() as server:
        server.bind((LOOPBACK, 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers: list[socket.socket] = []
        try:
            while len(fillers) < 64:
                filler = socket.socket()
                filler.setblocking(False)
                fillers.append(filler)
                filler.connect_ex((LOOPBACK, port))
                _, writable, _ = select.select([], [filler], [], 0.2)
                if not writable:  # this one is stuck in SYN: the queue is full
                    break
            yield port
        finally:
            for filler in fillers:
                filler.close()


# --- files_repo ------------------------------------------------------------

_NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  default_type application/octet-stream;
  server {{
    listen {LOOPBACK}:{port};
    root {root};
    location /head-refused/ {{ if ($request_method = HEAD) {{ return 405; }} }}
    location /private/ {{ auth_basic "files"; auth_basic_user_file {dir}/htpasswd; }}
    location /forbidden/ {{ return 403; }}
  }}
}}
"""


@dataclass
class FileServer:
    """nginx serving `root` (a files_repo): `/head-refused/` answers HEAD with 405,
    `/private/` needs Basic auth (`credentials`), `/forbidden/` answers 403."""

    url: str
    root: Path
    process: processes.ProcessRecord
    credentials: Credentials

    def stop(self) -> None:
        processes.stop([self.process])


def start_file_server(directory: Path, files: dict[str, bytes], credentials: Credentials) -> FileServer:
    require("nginx", "htpasswd")
    root = directory / "root"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    write_htpasswd(directory / "htpasswd", {credentials.username: credentials.password})
    pid_file = directory / "nginx.pid"
    for _ in range(5):  # nginx cannot listen on port 0: pick one, and try another if it was taken meanwhile
        port = free_port()
        conf = directory / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(dir=directory, root=root, port=port, LOOPBACK=LOOPBACK))
        process, _ = processes.start(
            "nginx", ["nginx", "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)], directory / "nginx.log"
        )
        # nginx writes its pid file once its socket is bound: until then a server
        # answering on that port may be someone else's.
        try:
            processes.wait_until(
                "nginx", lambda: pid_file.exists() and processes.listening(LOOPBACK, port),
                timeout=START_TIMEOUT, dead=process, log=directory / "error.log",
            )
            return FileServer(f"http://{LOOPBACK}:{port}", root, process, credentials)
        except LabError:
            processes.stop([process])
            pid_file.unlink(missing_ok=True)
    raise RuntimeError(f"nginx did not start:\n{(directory / 'error.log').read_text()[-2000:]}")


# --- fixtures (imported by tests/conftest.py; other conftests may import them too) -----

OPERATOR = Credentials("operator", "s3cret-Passw0rd")
READER = Credentials("reader", "r3ader-Passw0rd")


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory) -> Iterator[RegistryServer]:
    """A plain-HTTP registry without auth (`docker_insecure_registries`)."""
    server = start_registry(tmp_path_factory.mktemp("plain-registry"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_ca(tmp_path_factory) -> KeyPair:
    require("openssl")
    return make_ca(tmp_path_factory.mktemp("ca"), "kubespray-verify test CA")


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory, registry_ca) -> Iterator[RegistryServer]:
    """HTTPS with a certificate from `registry_ca` (SAN IP:127.0.0.1 only) and htpasswd Basic auth for `OPERATOR`."""
    require("htpasswd")
    directory = tmp_path_factory.mktemp("tls-registry")
    cert = make_server_cert(registry_ca, directory / "tls", [LOOPBACK])
    htpasswd = write_htpasswd(directory / "htpasswd", {OPERATOR.username: OPERATOR.password})
    server = start_registry(directory, tls=cert, htpasswd=htpasswd, ca=registry_ca.cert, credentials=OPERATOR)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_issuer(tmp_path_factory) -> Iterator[TokenIssuer]:
    users = {OPERATOR.username: OPERATOR.password, READER.username: READER.password}
    issuer = TokenIssuer(tmp_path_factory.mktemp("token-issuer"), users, readers=frozenset({READER.username}))
    yield issuer
    issuer.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory, token_issuer) -> Iterator[RegistryServer]:
    """A registry delegating auth to `token_issuer` (anonymous pull on `public/*` only)."""
    server = start_registry(tmp_path_factory.mktemp("token-registry"), token=token_issuer, credentials=OPERATOR)
    yield server
    server.stop()


FILES = {
    "kubernetes/v1.31.0/kubeadm": b"kubeadm binary stand-in\n" * 100,
    "head-refused/crictl.tar.gz": b"crictl archive stand-in\n" * 10,
    "private/etcd.tar.gz": b"etcd archive stand-in\n",
}


@pytest.fixture(scope="session")
def file_server(tmp_path_factory) -> Iterator[FileServer]:
    """nginx serving `FILES` as a files_repo."""
    server = start_file_server(tmp_path_factory.mktemp("files-repo"), FILES, OPERATOR)
    yield server
    server.stop()
