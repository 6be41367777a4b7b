"""Running a command on a node over the connection Ansible would use, through testinfra's backends.

Connection variables (`ansible_host`, `ansible_port`, `ansible_user`, key
file, `ansible_ssh_common_args`/`ansible_ssh_extra_args` such as ProxyJump,
become, `ansible_connection: local`, and `ansible_python_interpreter` for the
probe) are read with ansible-core from the inventory, templated for each
host, and handed to testinfra's own mapping
(`testinfra.utils.ansible_runner.get_ansible_host`). A command's result is a
value; a connection that cannot be made is a `NodeUnreachable` naming host
and cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from kubespray_verify import defaults
from kubespray_verify.errors import VerifyError

from testinfra.utils.ansible_runner import get_ansible_config, get_ansible_host

KEEPALIVE = "-o ServerAliveInterval=5 -o ServerAliveCountMax=3"  # a node gone mid-command costs ~15 s

DEFAULT_PYTHON = "python3"  # as Ansible's interpreter discovery finds it on every supported distribution


class NodeUnreachable(VerifyError):
    def __init__(self, host: str, cause: str):
        super().__init__(f"{host}: unreachable: {cause}")
        self.host = host
        self.cause = cause


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str


class Node:
    """One inventory host and the testinfra backend that reaches it."""

    def __init__(self, name: str, testinfra_host, description: str, python: str = DEFAULT_PYTHON):
        self.name = name
        self._host = testinfra_host
        self.description = description  # e.g. ssh://root@10.200.0.11 (never a password)
        self.python = python  # the interpreter the node probe runs under (ansible_python_interpreter)

    @property
    def backend(self):
        """testinfra's backend for this node (fix/streams.py builds its ssh command lines from it)."""
        return self._host.backend

    def run(self, command: str) -> CommandResult:
        try:
            out = self._host.run(command)
        except RuntimeError as exc:  # testinfra's ssh backend: exit 255 is a connection failure
            result = exc.args[0] if exc.args else None
            stderr = getattr(result, "stderr", "") or str(exc)
            raise NodeUnreachable(self.name, _last_line(stderr) or "ssh failed") from None
        except OSError as exc:
            raise NodeUnreachable(self.name, str(exc)) from None
        return CommandResult(out.rc, out.stdout, out.stderr)


def nodes_from_specs(specs: Mapping[str, Mapping],
                     connect_timeout: int = defaults.NODE_CONNECT_TIMEOUT) -> dict[str, "Node"]:
    config = get_ansible_config()
    return {name: node_from_vars(name, hostvars, config, connect_timeout) for name, hostvars in specs.items()}


def nodes(inventory: Sequence[str], extra_vars: Sequence[str] = (), limit: Optional[str] = None,
          connect_timeout: int = defaults.NODE_CONNECT_TIMEOUT) -> dict[str, Node]:
    from kubespray_verify.resolve.connection_vars import connection_specs

    return nodes_from_specs(connection_specs(inventory, extra_vars, limit)[0], connect_timeout)


def python_of(hostvars: Mapping) -> str:
    """The node's Python as Ansible runs it: ansible_python_interpreter when it names one (Flatcar's
    /opt/bin/python, a /usr/bin/python3.11), else python3 ("auto*" is Ansible's own discovery)."""
    given = str(hostvars.get("ansible_python_interpreter") or "").strip()
    return given if given and not given.startswith("auto") else DEFAULT_PYTHON


def node_from_vars(name: str, hostvars: Mapping, config=None,
                   connect_timeout: int = defaults.NODE_CONNECT_TIMEOUT) -> Node:
    hostvars = dict(hostvars)
    for key in ("ansible_port",):
        if key in hostvars:
            hostvars[key] = str(hostvars[key])
    if isinstance(hostvars.get("ansible_become"), str):
        hostvars["ansible_become"] = hostvars["ansible_become"].lower() in ("1", "true", "yes", "on")
    inventory = {"_meta": {"hostvars": {name: hostvars}}, "all": {"hosts": [name]}}
    testinfra_host = get_ansible_host(config or get_ansible_config(), inventory, name)
    if testinfra_host is None:
        raise VerifyError(f"host {name}: connection {hostvars.get('ansible_connection')!r} is not supported")
    backend = testinfra_host.backend
    if hasattr(backend, "controlpersist"):
        # No ControlMaster left running after the run; each node gets at most two connections.
        backend.controlpersist = 0
        backend.timeout = connect_timeout
        extra = (backend.ssh_extra_args or "")
        if "batchmode" not in extra.lower() and not getattr(backend.host, "password", None):
            extra += " -o BatchMode=yes"
        if "serveraliveinterval" not in extra.lower():
            extra += " " + KEEPALIVE
        backend.ssh_extra_args = extra.strip()
        description = f"{backend.NAME}://{backend.host.user + '@' if backend.host.user else ''}{backend.host.name}"
        if backend.host.port:
            description += f":{backend.host.port}"
    else:
        description = f"{backend.NAME}://{name}"
    return Node(name, testinfra_host, description, python_of(hostvars))


def run_json(node: Node, command: str) -> dict:
    """Run a command that answers JSON on stdout (the node probe)."""
    result = node.run(command)
    if result.rc != 0:
        raise VerifyError(f"{node.name}: probe failed (exit {result.rc}): {_last_line(result.stderr)}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise VerifyError(f"{node.name}: probe answered no JSON: {result.stdout[:200]!r}") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
