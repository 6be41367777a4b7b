"""The shell command that runs one of the suite's standard-library scripts on a node (runner side).

The script travels compressed in the command line and is compiled from there, so nothing is copied to
the node first. An older Python says which it is, in a line Python 2 also reads, instead of a
SyntaxError. Used for the node probe (`script`, with the modules it ships) and for `--fix`'s file script.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import zlib
from pathlib import Path
from typing import Optional

from kubespray_verify.nodes.probe import script

GUARD = ("import sys;sys.version_info<(3,8) and sys.exit('kubespray-verify needs Python 3.8 or newer on the "
         "node: '+sys.executable+' is '+sys.version.split()[0])")


def _packed(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode()


def script_command(source: str, name: str, python: str = "python3", argument: Optional[str] = None,
                   replace_shell: bool = False) -> str:
    """`python -c …` running `source` (shown in tracebacks as `name`), with `argument` as its sys.argv[1].

    With `replace_shell` the command is `exec`'d, so that signals reach the script itself."""
    # sys.argv[1] holds the script while it is compiled; the script then finds its own argument there.
    runner = f"import base64,zlib;exec(compile(zlib.decompress(base64.b64decode(sys.argv.pop(1))),'{name}','exec'))"
    line = '%s -c "%s;%s" %s' % (python, GUARD, runner, _packed(source))
    if argument is not None:
        line += " " + argument
    return "exec " + line if replace_shell else line


def probe_source() -> str:
    """The node probe's text, with the standard-library modules it may import (made when a request needs one)."""
    sources = []
    for name in script.SHIPPED_MODULES:
        sources.append((name, Path(importlib.util.find_spec(name).origin).read_text()))
    return "_SHIPPED = %r\n" % sources + Path(script.__file__.replace(".pyc", ".py")).read_text()


def probe_command(request, python: str = "python3") -> str:
    """The node probe with `request` (JSON-able), under `python` (the node's interpreter, written as in
    ansible_python_interpreter)."""
    return script_command(probe_source(), "kubespray-verify-probe", python,
                          argument=_packed(json.dumps(request, sort_keys=True)))
