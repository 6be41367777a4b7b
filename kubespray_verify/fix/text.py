"""What `--fix-plan` prints and what `--fix` says at the end (pure: lines of text)."""

from __future__ import annotations

from kubespray_verify.fix.plan import RUNNER, Plan
from kubespray_verify.fix.progress import summary


def plan_lines(plan: Plan, checked: int = 0) -> list[str]:
    """The exact per-node action list: what, from where, to which nodes, by which command."""
    lines = [f"kubespray-verify --fix-plan: download mode {plan.mode.name}"]
    if plan.empty:
        lines.append("  nothing to do" + (f": the {checked} checked images and files are right" if checked else "")
                     + ("" if not plan.unfixable else ", but some cannot be fixed (below)"))
    for host, actions in plan.by_node().items():
        lines.append(f"  {'the runner' if host == RUNNER else host}:")
        for action in actions:
            lines.append(f"    - {action.item}: {action.describe()}")
            lines.extend(f"        $ {command}" for command in action.commands)
    lines.extend(unfixable_lines(plan))
    return lines


def unfixable_lines(plan: Plan) -> list[str]:
    if not plan.unfixable:
        return []
    return ["  cannot be fixed:"] + [f"    - {u.host} {u.item}: {u.reason}" for u in plan.unfixable]


def result_lines(plan: Plan, outcomes: dict, tally: dict, seconds: float, checked: int = 0) -> list[str]:
    if plan.empty:
        lines = ["kubespray-verify --fix: nothing to fix, nothing changed"
                 + (f" ({checked} checked images and files are right)" if checked else "")]
        return lines + unfixable_lines(plan)
    failed = [o for o in outcomes.values() if o.error]
    lines = [f"kubespray-verify --fix: {len(outcomes) - len(failed)} fixed, {len(failed)} not fixed, "
             f"in {seconds:.1f} s ({plan.mode.name})"]
    lines += [f"  {line}" for line in summary(tally)]
    lines += [f"  not fixed: {o.host} {o.item}: {o.error}" for o in sorted(failed, key=lambda o: (o.host, o.item))]
    return lines + unfixable_lines(plan)
