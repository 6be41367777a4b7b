"""The standard-library script that places a file on a node (or on the runner) for `--fix`.

It runs under the node's Python (3.8 or newer), sent in the command line as
the node probe is; its request (which may hold the item's credentials) comes
as the first line of stdin, never in the command line. Operations:

- `download`: fetch `url` into a temporary file in the dest directory (with
  the item's credentials, the host's proxies and `download_validate_certs`,
  retried with backoff `retries` times), verify its checksum, then set mode
  and owner and rename it over `dest`; an `unarchive` item is then extracted
  beside it, as Kubespray's extract step does;
- `receive`: the same, with the content coming on stdin (`size` bytes);
- `send`: fetch `url` and write it to stdout (the runner verifies and keeps it);
- `correct`: set mode and owner of `dest`.

A download whose checksum does not match never replaces what was at dest: the
temporary file is removed and the answer says expected, found and the URL
(without credentials). When the runner goes away (its connection closes stdin),
or on SIGINT, SIGTERM or SIGHUP, the temporary file is removed before exit.
The last line on stdout (stderr for `send`) is the JSON answer.
"""

from __future__ import annotations

import json
from pathlib import Path

from kubespray_verify.nodes.probe.command import script_command

SCRIPT_VERSION = 1
TEMP_SUFFIX = ".kubespray-verify-fix"  # temporary files: .<dest name>.<pid>.kubespray-verify-fix


def command(python: str = "python3") -> str:
    """The shell command running this script under `python`; the request goes on stdin's first line."""
    return script_command(_source(), "kubespray-verify-fix", python, replace_shell=True)


def request_line(request: dict) -> bytes:
    return json.dumps(request, sort_keys=True).encode() + b"\n"


def _source() -> str:
    return (Path(__file__).with_name("file_script_body.py")).read_text()
