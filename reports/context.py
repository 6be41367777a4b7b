"""What the reports say about the run beside its verdicts: versions, inventory, each node, timings (pure).

Read from the expected state (`kubespray_verify.model.ExpectedState`) and, when the nodes were
observed, from the cluster observation (its final state, each node's facts, runtime and round trips);
both are plain values. Nothing here holds a credential: no connection variable, no URL.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from reports.model import RUNNER


def run_context(state, inventory: Sequence[str], limit: Optional[str], versions: Mapping[str, str]) -> dict:
    """kubespray_verify, kubespray {version, dir}, ansible_core, inventory, limit."""
    context = {"kubespray_verify": versions.get("kubespray-verify"),
               "kubespray": {"version": getattr(state, "kubespray_version", None),
                             "dir": getattr(state, "kubespray_dir", None)},
               "ansible_core": versions.get("ansible-core"), "inventory": list(inventory), "limit": limit}
    return context


def common_properties(context: Mapping) -> dict[str, str]:
    """The properties every suite of the JUnit report carries."""
    props = {"kubespray.version": context["kubespray"].get("version"), "kubespray.dir": context["kubespray"].get("dir"),
             "ansible_core": context.get("ansible_core"), "inventory": ", ".join(context.get("inventory") or []),
             "limit": context.get("limit")}
    return {name: str(value) for name, value in props.items() if value}


def node_properties(state, observation) -> dict[str, dict[str, str]]:
    """host → runtime (Kubespray's container_manager, and what the node answered with), architecture."""
    final = getattr(observation, "state", None) or state
    nodes = getattr(observation, "nodes", None) or {}
    found: dict[str, dict[str, str]] = {}
    for host, exp in (final.hosts.items() if final is not None else ()):
        obs = nodes.get(host)
        props = {"runtime": exp.container_manager, "architecture": exp.arch, "facts_source": exp.facts_source}
        if obs is not None and not obs.error:
            images = obs.images or {}
            if images.get("source"):
                props["runtime.observed"] = f"{images.get('runtime')} ({images['source']})"
            if obs.facts.get("architecture"):
                props["machine"] = obs.facts["architecture"]
        elif obs is not None:
            props["reached"] = "no"
        found[host] = {k: str(v) for k, v in props.items() if v}
    return found


def expected_summary(state) -> dict:
    """The expected state in numbers: per host its architecture, runtime, images, files, unresolved items."""
    if state is None:
        return {}
    return {
        "download": {"run_once": state.download.run_once, "host": state.download.host},
        "notes": list(state.notes),
        "hosts": {host: {"arch": exp.arch, "facts_source": exp.facts_source,
                         "container_manager": exp.container_manager,
                         "images": sum(1 for i in exp.items if i.kind == "image"),
                         "files": sum(1 for i in exp.items if i.kind == "file"),
                         "unresolved": len(exp.errors)}
                  for host, exp in state.hosts.items()},
    }


def timings(session: float, resolve: Optional[float], observation, mirror_stats: Mapping[str, Any]) -> dict:
    """Seconds: the session, the resolution, each node's observation (and its round trips), the mirror probes."""
    found: dict = {"session": round(session, 3)}
    if resolve is not None:
        found["resolve"] = round(resolve, 3)
    nodes = getattr(observation, "nodes", None) or {}
    if nodes:
        found["observe"] = {host: {"seconds": round(obs.seconds, 3), "round_trips": obs.round_trips}
                            for host, obs in nodes.items()}
    if mirror_stats:
        ordered = {RUNNER: mirror_stats[RUNNER]} if RUNNER in mirror_stats else {}
        ordered.update((k, v) for k, v in mirror_stats.items() if k != RUNNER)
        found["mirrors"] = ordered
    return found
