"""`kubespray-verify lab ...` (placeholder until the lab lands)."""


def register(sub) -> None:
    p = sub.add_parser("lab", help="the local air-gapped lab")
    p.set_defaults(func=lambda args: print("lab: not built yet") or 1)
