"""`kubespray-verify check [pytest options]`: run the suite's checks from any directory.

pytest picks its rootdir and config file before any plugin can say that
`--inventory` takes a value, so `pytest --inventory /abs/hosts.yml` run from
elsewhere would take the inventory for a test path. This command runs pytest
with the suite's own rootdir, config and checks, whatever the working
directory, and passes every other argument through.
"""

from __future__ import annotations

from pathlib import Path

from kubespray_verify.errors import UsageError

SUITE_ROOT = Path(__file__).resolve().parents[2]


def register(sub) -> None:
    p = sub.add_parser(
        "check", add_help=False,
        help="run the checks against an inventory (arguments are pytest's and the suite's options)",
    )
    p.add_argument("pytest_args", nargs="*", help="pytest's and the suite's options, e.g. --inventory hosts.yml")
    p.set_defaults(func=run)


def run(args) -> int:
    import pytest

    import kubespray_verify_pytest

    if not (SUITE_ROOT / "checks").is_dir():
        raise UsageError(f"the suite's checks are not beside the package ({SUITE_ROOT}/checks): "
                         "run from a checkout of kubespray-verify")
    argv = ["--rootdir", str(SUITE_ROOT), "-c", str(SUITE_ROOT / "pyproject.toml"),
            "-p", "no:kubespray-verify", *args.pytest_args]
    checks = str(SUITE_ROOT / "checks")
    if not any(a.startswith((checks, "checks/", "checks:")) or a == "checks" for a in args.pytest_args):
        argv.append(checks)
    return int(pytest.main(argv, plugins=[kubespray_verify_pytest]))
