"""Certificates and passwords for registries: a CA, server certificates it signs, htpasswd files.

`create` makes the lab's set (its CA, the secure registry's certificate and
htpasswd entry); the project's tests make theirs with the same functions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from kubespray_verify.lab.processes import run

REGISTRY_USER = "kubespray"
CERT_DAYS = "30"
_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server: KeyPair  # the secure registry's certificate
    htpasswd: Path
    username: str
    password: str


def make_ca(directory: Path, common_name: str, name: str = "ca") -> KeyPair:
    """A self-signed CA: `<name>.crt` and `<name>.key` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    run(["openssl", "req", "-x509", *_EC_KEY, "-keyout", ca.key, "-out", ca.cert, "-days", CERT_DAYS,
         "-subj", f"/CN={common_name}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    ca.key.chmod(0o600)
    return ca


def make_server_cert(ca: KeyPair, directory: Path, ips: list[str], name: str = "server") -> KeyPair:
    """A server certificate signed by `ca` whose subjectAltName names `ips` and nothing else."""
    directory.mkdir(parents=True, exist_ok=True)
    server = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    run(["openssl", "req", *_EC_KEY, "-keyout", server.key, "-out", csr, "-subj", f"/CN={ips[0]}"])
    ext.write_text("subjectAltName=" + ",".join(f"IP:{ip}" for ip in ips) + "\n"
                   "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
         "-out", server.cert, "-days", CERT_DAYS, "-extfile", ext])
    server.key.chmod(0o600)
    return server


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    """bcrypt entries (`htpasswd -B`): the only kind the registry accepts."""
    path.write_bytes(b"".join(run(["htpasswd", "-Bbn", user, password]).stdout.strip() + b"\n"
                              for user, password in users.items()))
    return path


def create(directory: Path, ips: list[str], common_name: str) -> Pki:
    """The lab's CA, a server certificate for `ips`, and a bcrypt htpasswd entry with a new password."""
    ca = make_ca(directory, f"{common_name} lab CA")
    server = make_server_cert(ca, directory, ips, name="registry")
    password = secrets.token_urlsafe(12)
    htpasswd = write_htpasswd(directory / "htpasswd", {REGISTRY_USER: password})
    (directory / "password").write_text(password + "\n")
    (directory / "password").chmod(0o600)
    return Pki(ca.cert, server, htpasswd, REGISTRY_USER, password)


def load(directory: Path) -> Pki:
    return Pki(directory / "ca.crt", KeyPair(directory / "registry.crt", directory / "registry.key"),
               directory / "htpasswd", REGISTRY_USER, (directory / "password").read_text().strip())
