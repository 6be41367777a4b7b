"""Action plugin for parity tests: sets the node's facts as given (what `setup` would report)."""

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        return {"ansible_facts": dict(self._task.args), "changed": False}
