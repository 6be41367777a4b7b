"""The offline mirrors of Kubespray's offline.yml, run inside the hub namespace.

- `registry_host`: a plain-HTTP registry (distribution 2.8), e.g. 10.200.0.2:5000;
- a second registry with TLS (the lab's CA) and htpasswd basic auth, e.g. :5443,
  holding the same images, as a site's authenticated mirror;
- `files_repo`: nginx serving the mirror tree of files over HTTP, e.g. :8080.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from kubespray_verify.lab import netns
from kubespray_verify.lab.layout import LAB_ROOT, FILES_REPO_PORT, PLAIN_REGISTRY_PORT, SECURE_REGISTRY_PORT, Layout
from kubespray_verify.lab.pki import KeyPair, Pki
from kubespray_verify.lab.processes import ProcessRecord, listening, start, wait_until

REGISTRY_BIN = "/usr/bin/docker-registry"
NGINX_BIN = "/usr/sbin/nginx"


MIRRORS = ("registry", "secure-registry", "files_repo")  # the hub's roles: hub/<name>


def start_all(layout: Layout, pki: Pki) -> list[ProcessRecord]:
    records = [
        _start_registry(layout, "registry", PLAIN_REGISTRY_PORT, None),
        _start_registry(layout, "secure-registry", SECURE_REGISTRY_PORT, pki),
        _start_nginx(layout),
    ]
    for record, port in zip(records, (PLAIN_REGISTRY_PORT, SECURE_REGISTRY_PORT, FILES_REPO_PORT)):
        _wait(layout, record, port)
    return records


def start_one(layout: Layout, pki: Pki, name: str) -> ProcessRecord:
    """Start one mirror again (after `Lab.stop_mirror`); ready when it listens."""
    if name == "files_repo":
        record, port = _start_nginx(layout), FILES_REPO_PORT
    elif name in ("registry", "secure-registry"):
        secure = name == "secure-registry"
        port = SECURE_REGISTRY_PORT if secure else PLAIN_REGISTRY_PORT
        record = _start_registry(layout, name, port, pki if secure else None)
    else:
        raise ValueError(f"no mirror {name!r}: the lab runs {', '.join(MIRRORS)}")
    _wait(layout, record, port)
    return record


def _wait(layout: Layout, record: ProcessRecord, port: int) -> None:
    wait_until(f"{record.role} on {layout.hub_ip}:{port}", lambda: listening(layout.hub_ip, port),
               dead=record, log=layout.logs_dir / f"{record.role.split('/')[1]}.log")


def _in_hub(layout: Layout, argv: list[str]) -> list[str]:
    return ["nsenter", f"--net={netns.netns_path(layout.hub_netns)}", "--", *argv]


def registry_config(addr: str, storage: Path, *, tls: KeyPair | None = None, htpasswd: Path | None = None,
                    log_level: str = "warn") -> dict:
    """A config for distribution's `docker-registry serve`: filesystem storage (deletes allowed) on `addr`,
    with TLS and htpasswd Basic auth when given. Written as JSON, which YAML reads."""
    http: dict = {"addr": addr, "secret": secrets.token_hex(16)}
    if tls:
        http["tls"] = {"certificate": str(tls.cert), "key": str(tls.key)}
    config: dict = {
        "version": 0.1,
        "log": {"level": log_level, "formatter": "text"},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": http,
        "health": {"storagedriver": {"enabled": False}},
    }
    if htpasswd:
        config["auth"] = {"htpasswd": {"realm": "kubespray-verify", "path": str(htpasswd)}}
    return config


def _start_registry(layout: Layout, name: str, port: int, pki: Pki | None) -> ProcessRecord:
    root = layout.home / "mirrors" / name
    (root / "storage").mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    settings = registry_config(f"{layout.hub_ip}:{port}", root / "storage", tls=pki.server if pki else None,
                               htpasswd=pki.htpasswd if pki else None)
    config.write_text(json.dumps(settings, indent=2) + "\n")
    record, _ = start(f"hub/{name}", _in_hub(layout, [REGISTRY_BIN, "serve", str(config)]),
                      layout.logs_dir / f"{name}.log")
    return record


def _start_nginx(layout: Layout) -> ProcessRecord:
    root = layout.home / "mirrors" / "nginx"
    root.mkdir(parents=True, exist_ok=True)
    docroot = layout.files_repo_dir
    docroot.mkdir(parents=True, exist_ok=True)
    # nginx workers drop to www-data: the lab's part of the tree must be world-readable.
    for path in (docroot, *docroot.parents):
        if path == LAB_ROOT.parent:
            break
        path.chmod(path.stat().st_mode | 0o005)
    config = root / "nginx.conf"
    config.write_text(f"""daemon off;
worker_processes 1;
pid {root / 'nginx.pid'};
error_log {layout.logs_dir / 'files_repo.log'} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    default_type application/octet-stream;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen {layout.hub_ip}:{FILES_REPO_PORT};
        root {docroot};
        autoindex on;
    }}
}}
""")
    record, _ = start("hub/files_repo", _in_hub(layout, [NGINX_BIN, "-e", str(layout.logs_dir / "files_repo.log"),
                                                          "-p", str(root), "-c", str(config)]),
                      layout.logs_dir / "files_repo.log")
    return record

