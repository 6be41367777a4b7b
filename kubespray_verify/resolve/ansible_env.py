"""Quiet, strict ansible-core settings, applied before ansible is imported anywhere in the suite.

ansible-core reads its configuration from the environment when its
`constants` module is first imported; every module that imports ansible
imports this one first.
"""

import os

_SETTINGS = {
    # An inventory source that does not parse is an error, not a warning and an empty inventory.
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_SYSTEM_WARNINGS": "False",
    "ANSIBLE_NOCOLOR": "True",
}

for _key, _value in _SETTINGS.items():
    os.environ.setdefault(_key, _value)
