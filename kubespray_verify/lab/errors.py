"""The lab's errors: one line for the operator, naming the node, item or command at fault."""

from kubespray_verify.errors import VerifyError


class LabError(VerifyError):
    """The lab cannot be built, used or removed (missing package, not root, a command failed...)."""


class CommandError(LabError):
    """A command the lab ran failed; the message names the command and quotes its stderr."""
