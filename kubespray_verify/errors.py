"""One exception tree for everything the suite reports as bad input or broken infrastructure.

Each error carries a message meant for an operator: it names the file, host,
variable or item at fault. The CLI and the pytest plugin print it as one line
and exit non-zero; nothing above this module needs a traceback.
"""


class VerifyError(Exception):
    """Base of every error the suite raises on purpose."""


class UsageError(VerifyError):
    """The command line or an option is wrong (missing file, bad pattern...)."""


class InventoryError(VerifyError):
    """The Ansible inventory or a vars file cannot be read or parsed."""


class KubesprayTreeError(VerifyError):
    """The Kubespray directory is missing or is not a Kubespray tree."""


class CheckError(VerifyError):
    """An item that cannot be checked on a node (unreachable, unreadable, unverifiable): an error, never a pass."""
