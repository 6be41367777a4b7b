"""A host's connection variables, read and templated with ansible-core as Ansible would before connecting.

`nodes/connection.py` connects with what this returns; `resolve/cache.py` keeps the literal ones.
"""

from __future__ import annotations

from typing import Optional, Sequence

from kubespray_verify.errors import VerifyError, reports_unexpected

CONNECTION_VARS = (
    "ansible_host", "ansible_port", "ansible_user", "ansible_connection",
    "ansible_ssh_host", "ansible_ssh_port", "ansible_ssh_user",
    "ansible_ssh_private_key_file", "ansible_private_key_file", "ansible_ssh_pass",
    "ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_become", "ansible_become_user",
    "ansible_python_interpreter",
)
SECRET_VARS = ("ansible_ssh_pass",)
TEMPLATE_MARKS = ("{{", "{%", "{#")


def connection_vars(inputs, host) -> tuple[dict, bool]:
    """The host's connection variables, templated as Ansible would before connecting.

    Also says whether they are literal: no templating and no secret, so the same inventory content
    always gives the same values and they may be kept on disk.
    """
    from ansible.errors import AnsibleError
    from ansible.template import Templar

    raw = inputs.variables.get_vars(host=host, include_hostvars=False)
    templar = Templar(loader=inputs.loader, variables=raw)
    found = {}
    literal = True
    for name in CONNECTION_VARS:
        if name in raw:
            value = raw[name]
            if name in SECRET_VARS or not isinstance(value, (str, int, bool, type(None))) \
                    or any(mark in str(value) for mark in TEMPLATE_MARKS):
                literal = False
            try:
                found[name] = templar.template(value)
            except AnsibleError as exc:
                raise VerifyError(f"host {host.name}: variable {name}: {' '.join(str(exc).split())}") from None
    # Legacy spellings Ansible still accepts.
    for legacy, modern in (("ansible_ssh_host", "ansible_host"), ("ansible_ssh_port", "ansible_port"),
                           ("ansible_ssh_user", "ansible_user")):
        if legacy in found and modern not in found:
            found[modern] = found[legacy]
    return found, literal


@reports_unexpected("reading the hosts' connection variables")
def connection_specs(inventory: Sequence[str], extra_vars: Sequence[str] = (),
                     limit: Optional[str] = None) -> tuple[dict[str, dict], bool]:
    """host → its connection variables (read with ansible-core), and whether all of them are literal."""
    from kubespray_verify.resolve import inputs as ansible_inputs  # ansible-core: only when not cached

    inputs = ansible_inputs.load(inventory, extra_vars, limit)
    specs, literal = {}, True
    for host in inputs.hosts:
        found, plain = connection_vars(inputs, host)
        specs[host.name] = {k: v for k, v in found.items() if v is not None}
        literal = literal and plain
    return specs, literal
