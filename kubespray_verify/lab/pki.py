"""The lab's own CA, the secure registry's certificate, and its htpasswd file."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from kubespray_verify.lab.processes import run

REGISTRY_USER = "kubespray"
CERT_DAYS = "30"


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    htpasswd: Path
    username: str
    password: str


def create(directory: Path, ips: list[str], common_name: str) -> Pki:
    """A CA, a server certificate whose subjectAltName covers `ips`, and a bcrypt htpasswd entry."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "registry.key", directory / "registry.csr", directory / "registry.crt"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", ca_key, "-out", ca_cert, "-days", CERT_DAYS, "-subj", f"/CN={common_name} lab CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", csr, "-subj", f"/CN={ips[0]}"])
    ext = directory / "registry.ext"
    ext.write_text("subjectAltName=" + ",".join(f"IP:{ip}" for ip in ips) + "\n"
                   "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", CERT_DAYS, "-extfile", ext])
    password = secrets.token_urlsafe(12)
    htpasswd = directory / "htpasswd"
    # The registry accepts bcrypt entries only (-B).
    htpasswd.write_bytes(run(["htpasswd", "-Bbn", REGISTRY_USER, password]).stdout)
    (directory / "password").write_text(password + "\n")
    for secret in (ca_key, key, directory / "password"):
        secret.chmod(0o600)
    return Pki(ca_cert, cert, key, htpasswd, REGISTRY_USER, password)


def load(directory: Path) -> Pki:
    return Pki(directory / "ca.crt", directory / "registry.crt", directory / "registry.key",
               directory / "htpasswd", REGISTRY_USER, (directory / "password").read_text().strip())
