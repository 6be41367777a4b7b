"""One `--fix` (or `--fix-plan`): gather what fails, plan it in Kubespray's download mode, act, report.

The caller observed the cluster (nodes/observe.py) and observes it again
afterwards: what the checks then report is the state after fixing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

from kubespray_verify.fix import text
from kubespray_verify.fix.execute import Executor, Outcome
from kubespray_verify.fix.gather import KINDS, Gathered, gather
from kubespray_verify.fix.lock import FixLock
from kubespray_verify.fix.plan import COPY, CORRECT, DOWNLOAD, FETCH, DownloadMode, Plan, plan as make_plan
from kubespray_verify.fix.progress import Progress


@dataclass
class FixResult:
    plan: Plan
    gathered: Gathered
    acted: bool = False
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    tally: dict = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        checked = self.gathered.passed
        if not self.acted:
            return text.plan_lines(self.plan, checked)
        return text.result_lines(self.plan, self.outcomes, self.tally, self.seconds, checked)

    def properties(self) -> dict[tuple[str, str], dict]:
        """(host, item) → the value of the check's `kubespray_verify.fix` property: what was done
        (`action`: pulled, pushed, tagged, downloaded, copied or corrected; `done`: the sentence), or why
        it was not (`action`: "not fixed", `error`)."""
        found = {}
        for key, outcome in self.outcomes.items():
            if outcome.error:
                found[key] = {"action": "not fixed", "error": outcome.error,
                              **({"done": outcome.text} if outcome.done else {})}
            elif outcome.done:
                found[key] = {"action": outcome.actions[-1], "done": outcome.text}
        for unfixable in self.plan.unfixable:
            found.setdefault((unfixable.host, unfixable.item), {"action": "not fixed", "error": unfixable.reason})
        return found


def fix(cluster, nodes: Mapping, *, inventory: Sequence[str], act: bool, kinds=KINDS,
        selected: Callable[[str, str, str], bool] = lambda kind, host, item: True,
        remote: Optional[Callable] = None, settings: Optional[Callable[[], Mapping]] = None,
        cached: Callable[[str], Sequence[str]] = lambda cache_dir: (), progress: Optional[Progress] = None,
        docker_client: Optional[Callable] = None) -> FixResult:
    """Plan (and with `act`, carry out) the fix of every selected failing check of `cluster`.

    `settings()` → host → HostSettings (proxies, credentials), read only when files are to be fixed;
    `cached(cache_dir)` → the files the runner's cache holds (relative names).
    """
    if not act:
        return _planned(cluster, kinds, selected, remote, cached)
    with FixLock(inventory):  # before planning: a second run refuses rather than planning the same work
        result = _planned(cluster, kinds, selected, remote, cached)
        result.acted = True
        planned = result.plan
        if planned.empty:
            return result
        started = time.monotonic()
        files = any(a.kind in (DOWNLOAD, FETCH, COPY, CORRECT) for a in planned.actions)
        executor = Executor(nodes, settings=settings() if (files and settings) else None, progress=progress,
                            docker_client=docker_client)
        result.outcomes = executor.execute(planned)
        result.tally = executor.tally.counts
        result.seconds = time.monotonic() - started
    return result


def _planned(cluster, kinds, selected, remote, cached) -> FixResult:
    gathered = gather(cluster, kinds, selected, remote)
    mode = DownloadMode.of(cluster.state.download)
    planned = make_plan(cluster.state, gathered.nodes, gathered.failures, mode, cached=cached(mode.cache_dir))
    return FixResult(planned, gathered)


def cache_listing(cache_dir: str) -> list[str]:
    """The files under the runner's download_cache_dir (names relative to it)."""
    import os

    found = []
    for root, _dirs, names in os.walk(cache_dir):
        for name in names:
            if not name.startswith("."):
                found.append(os.path.relpath(os.path.join(root, name), cache_dir))
    return found
