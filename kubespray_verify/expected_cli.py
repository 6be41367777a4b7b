"""`kubespray-verify expected` (placeholder until the resolver lands)."""


def register(sub) -> None:
    p = sub.add_parser("expected", help="print the per-node expected downloads")
    p.set_defaults(func=lambda args: print("expected: not built yet") or 1)
