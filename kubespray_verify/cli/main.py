"""The `kubespray-verify` command: `expected`, `lab ...`.

Every error the suite raises on purpose (`VerifyError`) is printed as one
line on stderr with exit status 2; nothing here prints a traceback for bad input.
An exception it did not expect is one line too, saying what failed and where;
`-v`/`--debug` adds its traceback.
"""

from __future__ import annotations

import argparse
import sys

from kubespray_verify.errors import InternalError, VerifyError, traceback_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubespray-verify", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    from kubespray_verify.cli import check as check_cli
    from kubespray_verify.cli import expected as expected_cli
    from kubespray_verify.cli import lab as lab_cli

    expected_cli.register(sub)
    check_cli.register(sub)
    lab_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if argv[:1] == ["check"]:
        # Everything after `check` is pytest's, verbatim (argparse would reorder values and options).
        args = argparse.Namespace(func=check_cli_run, command="check", pytest_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not isinstance(exc, VerifyError):
            exc = InternalError.of(f"running `kubespray-verify {args.command}`", exc).with_cause(exc)
        if isinstance(exc, InternalError) and getattr(args, "debug", False):
            print(traceback_text(exc), file=sys.stderr, end="")
        print(f"kubespray-verify: error: {exc}", file=sys.stderr)
        return 2


def check_cli_run(args) -> int:
    from kubespray_verify.cli.check import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
