"""Kubespray's defaults role in a play, as its variables reach the hosts: role defaults and role vars only.

A Kubespray playbook loads the role (`roles: [kubespray_defaults]`), so its defaults and vars come
in at their precedence (defaults below the inventory, vars above it). Its tasks, handlers and
argument specs are never read: the resolver runs no task, and parsing tasks would resolve their
modules, some of which come from collections an operator's ansible-core alone does not have.
"""

from __future__ import annotations

from pathlib import Path

from kubespray_verify.resolve import ansible_env  # noqa: F401  (must precede ansible imports)

from ansible.playbook.play import Play  # noqa: E402
from ansible.playbook.role import Role  # noqa: E402
from ansible.playbook.role.include import RoleInclude  # noqa: E402

_NOT_READ = ("tasks", "handlers")


class _VariablesOnlyRole(Role):
    """A role that loads its defaults/ and vars/ as ansible-core does, and neither its tasks nor its handlers."""

    def _load_role_yaml(self, subdir, main=None, allow_dir=False):
        if subdir in _NOT_READ:
            return None
        return super()._load_role_yaml(subdir, main=main, allow_dir=allow_dir)


def load(role_path: Path, variables, loader) -> Play:
    """A play over all hosts whose only role is the one at `role_path`, its variables only.

    Raises AnsibleError (a defaults file that does not parse, say), as ansible-playbook would.
    """
    play = Play.load({"hosts": "all", "gather_facts": False}, variable_manager=variables, loader=loader)
    include = RoleInclude.load(str(role_path), play=play, variable_manager=variables, loader=loader)
    role = _VariablesOnlyRole(play=play, validate=False)
    role._load_role_data(include)
    play.roles = [role]
    return play
