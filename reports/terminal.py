"""The terminal summary: one table of every vantage point, then each failure and error once, by node.

    suite     pass  fail  error  skip  worst finding
    node1       40     2      0     1  image calico_cni: calico_cni 10.200.0.2:5000/calico/cni:v3.31.7 on co…
    runner      24     0      0     0
    cluster      0     1      0     0  lint digest_pins_enforced: Kubespray 2.29.0 pulls by tag: …

    node1: 2 failed
      FAIL  image calico_cni
            calico_cni 10.200.0.2:5000/calico/cni:v3.31.7 on containerd (ctr): missing
            image   expected 10.200.0.2:5000/calico/cni:v3.31.7   found missing

Rendered as lines of (text, markup) segments, markup as pytest's TerminalWriter takes it (red=True,
bold=True...): the writer colours them where the terminal supports it and prints them plain in a
CI log. Pure.
"""

from __future__ import annotations

import textwrap
from typing import Iterator, Mapping

from reports.junit import flatten
from reports.model import VERDICTS, Case, RunResult, Suite

Segment = tuple[str, dict]
Line = list[Segment]

COLOURS = {"pass": {"green": True}, "fail": {"red": True}, "error": {"red": True}, "skip": {"yellow": True}}
LABELS = {"fail": "FAIL", "error": "ERROR", "skip": "SKIP", "pass": "PASS"}
MIN_WIDTH = 60
INDENT = 8


def table(result: RunResult, width: int) -> list[Line]:
    width = max(width, MIN_WIDTH)
    name_width = max([len("suite")] + [len(s.name) for s in result.suites])
    head = f"{'suite':<{name_width}}  " + "  ".join(f"{v:>5}" for v in VERDICTS) + "  worst finding"
    lines: list[Line] = [[(head, {"bold": True})]]
    for suite in result.suites:
        lines.append(_row(suite, name_width, width))
    return lines


def _row(suite: Suite, name_width: int, width: int) -> Line:
    line: Line = [(f"{suite.name:<{name_width}}", {"bold": True})]
    for verdict, count in suite.totals.items():
        line.append(("  ", {}))
        line.append((f"{count:>5}", COLOURS[verdict] if count and verdict != "pass" else {}))
    worst = suite.worst
    if worst is not None:
        used = name_width + len(VERDICTS) * 7 + 2
        line.append(("  ", {}))
        line.append((_clip(f"{worst.kind} {worst.item}: {brief(worst)}", width - used), COLOURS[worst.verdict]))
    elif not suite.cases:
        line.append(("  no checks", {}))
    return line


def brief(case: Case) -> str:
    """What is wrong in a few words, for the table: from the facts when they say it, else the message."""
    found = dict(flatten(case.facts.get("found") or {}))
    if any(found.get(name) in ("false", "missing") for name in ("present", "image")):
        return "missing"
    rows = list(side_by_side(case.facts))
    if not rows:
        return case.message
    return "; ".join(f"{name} expected {expected}, found {other}" if len(expected) + len(other) <= 24
                     else f"{name} differs" for name, expected, other in rows)


def findings(result: RunResult, width: int) -> list[Line]:
    """Each failure and error once, grouped by vantage point, expected and found side by side.

    Checks of one vantage point that failed alike (a node that cannot be reached errors every check of
    it with one message) are one finding listing them.
    """
    width = max(width, MIN_WIDTH)
    lines: list[Line] = []
    for suite in result.suites:
        groups: dict[tuple, list[Case]] = {}
        for case in suite.cases:
            if case.verdict in ("fail", "error"):
                groups.setdefault((case.verdict, case.message, case.detail), []).append(case)
        if not groups:
            continue
        counts = suite.totals
        said = ", ".join(f"{counts[v]} {'failed' if v == 'fail' else 'errors' if counts[v] > 1 else 'error'}"
                         for v in ("fail", "error") if counts[v])
        if lines:
            lines.append([])
        lines.append([(f"{suite.name}", {"bold": True}), (f": {said}", {})])
        for cases in groups.values():
            lines += _finding(cases, width)
    return lines


def _finding(cases: list[Case], width: int) -> list[Line]:
    case = cases[0]
    pad = " " * INDENT
    label = [("  ", {}), (f"{LABELS[case.verdict]:<6}", {**COLOURS[case.verdict], "bold": True})]
    if len(cases) == 1:
        lines: list[Line] = [label + [(f"{case.kind} {case.item}", {"bold": True})]]
    else:
        kinds: dict[str, list[str]] = {}
        for c in cases:
            kinds.setdefault(c.kind, []).append(c.item)
        named = "; ".join(f"{kind} {', '.join(items)}" for kind, items in kinds.items()) + f" ({len(cases)} checks)"
        first, *rest = _wrapped(named, width - INDENT)
        lines = [label + [(first, {"bold": True})]] + [[(pad + text, {"bold": True})] for text in rest]
    lines += [[(pad + text, {})] for text in _wrapped(case.message, width - INDENT)]
    rows = list(side_by_side(case.facts)) if len(cases) == 1 else []
    if rows:
        label_width = max(len(name) for name, _, _ in rows)
        for name, expected, found in rows:
            head = f"{pad}{name:<{label_width}}  "
            if len(head) + len(expected) + len(found) + len("expected   found ") <= width:
                lines.append([(head + "expected ", {}), (expected, {"green": True}),
                              ("  found ", {}), (found, COLOURS[case.verdict])])
            else:  # too wide for one line: one above the other
                lines.append([(head + "expected ", {}), (expected, {"green": True})])
                lines.append([(" " * len(head) + "found    ", {}), (found, COLOURS[case.verdict])])
    for text in case.detail.rstrip().splitlines():
        lines.append([(pad + text, {})])
    return lines


def _wrapped(text: str, room: int) -> list[str]:
    return textwrap.wrap(text, width=room, break_long_words=False, break_on_hyphens=False) or [""]


def side_by_side(facts: Mapping) -> Iterator[tuple[str, str, str]]:
    """(what, expected, found) for each fact the expected and found values of a case disagree on.

    Nothing for what is absent: the message says the file or image is missing, not its checksum "none".
    """
    expected = dict(flatten(facts.get("expected") or {}))
    found = dict(flatten(facts.get("found") or {}))
    if any(found.get(name) in ("false", "missing") for name in ("present", "image")):
        return
    for name, value in expected.items():
        if name in found and found[name] != value:
            yield name, value, found[name]


def _clip(text: str, room: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"


def render(lines: list[Line]) -> str:
    """The lines as plain text (what a CI log shows)."""
    return "\n".join("".join(text for text, _ in line) for line in lines) + ("\n" if lines else "")
