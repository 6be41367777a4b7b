"""The probe runs under the Python the inventory names for the node (ansible_python_interpreter), as Ansible
does: Flatcar's /opt/bin/python, a versioned /usr/bin/python3.11; "auto" is Ansible's discovery (python3)."""

from __future__ import annotations

import pytest

from kubespray_verify.nodes import connection
from kubespray_verify.errors import VerifyError
from kubespray_verify.nodes.observe import _run_probe


@pytest.mark.parametrize("given, runs", [
    (None, "python3"),
    ("", "python3"),
    ("auto_silent", "python3"),
    ("auto", "python3"),
    ("/opt/bin/python", "/opt/bin/python"),
    ("/usr/bin/env python3", "/usr/bin/env python3"),
])
def test_the_interpreter_is_the_inventorys_unless_it_asks_for_discovery(given, runs):
    hostvars = {"ansible_connection": "local"}
    if given is not None:
        hostvars["ansible_python_interpreter"] = given
    assert connection.node_from_vars("node1", hostvars).python == runs


def test_the_probe_runs_under_the_named_interpreter(tmp_path):
    used = tmp_path / "used"
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\ntouch {used}\nexec python3 \"$@\"\n")
    wrapper.chmod(0o755)
    node = connection.node_from_vars("node1", {"ansible_connection": "local", "ansible_python_interpreter": str(wrapper)})
    answer = _run_probe(node, {})
    assert answer["facts"]["architecture"] and used.exists()


def test_a_missing_interpreter_is_named_with_the_host(tmp_path):
    missing = tmp_path / "no-such-python"
    node = connection.node_from_vars("node7", {"ansible_connection": "local", "ansible_python_interpreter": str(missing)})
    with pytest.raises(VerifyError) as caught:
        _run_probe(node, {})
    message = str(caught.value)
    assert message.startswith("node7: probe failed (exit 127)") and str(missing) in message
