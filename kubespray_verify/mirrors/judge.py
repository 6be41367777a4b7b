"""A mirror check's verdict from its probes' results (pure).

PASS needs an answer: the file or repo path answered, the registry gave the
manifest at a digest that fits the pins, with every needed architecture.
FAIL says what the vantage point met instead (each error class has its own
wording: 401 with or without credentials, 404, 429, 5xx, TLS, DNS,
timeouts...). ERROR is for what the suite could not tell (a probe that could
not be built). Messages name URLs without credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional

from kubespray_verify import errors
from kubespray_verify.digests import normalize_digest
from kubespray_verify.mirrors.endpoints import INSECURE_TLS
from kubespray_verify.mirrors.outcomes import ProbeResult
from kubespray_verify.mirrors.plan import RUNNER, CheckPlan, ImageProbe, Part
from kubespray_verify.oci import INDEX_TYPES
from kubespray_verify.registry.tags import WHOLE, describe, pin_in_tag
from kubespray_verify.verdicts.status import Status, Verdict


@dataclass(frozen=True)
class _PartVerdict:
    status: Status
    message: str
    warnings: tuple[str, ...] = ()
    facts: Mapping = field(default_factory=dict)


def judge(plan: CheckPlan, results: Mapping[object, ProbeResult]) -> Verdict:
    where = "the runner" if plan.vantage == RUNNER else plan.vantage
    if plan.skip is not None and not plan.parts:
        return Verdict(Status.SKIP, plan.skip)
    verdicts = [_part(plan, p, results.get(p.probe) if p.probe is not None else None, where) for p in plan.parts]
    if not verdicts:
        return Verdict(Status.SKIP, f"{plan.label}: nothing to probe from {where}")
    for status in (Status.FAIL, Status.ERROR):
        if any(v.status == status for v in verdicts):
            break
    else:
        status = Status.PASS
    shown = [v for v in verdicts if v.status == status] if status != Status.PASS else verdicts
    warnings = tuple(dict.fromkeys(w for v in verdicts for w in v.warnings))
    return Verdict(status, f"{plan.label} from {where}: " + " | ".join(v.message for v in shown),
                   _check_facts(plan, shown, verdicts), warnings=warnings)


def _check_facts(plan: CheckPlan, shown: list[_PartVerdict], every: list[_PartVerdict]) -> dict:
    """The target and what its first shown probe met; every probe's own facts when it has several."""
    facts = {"target": plan.label, "from": plan.vantage, **shown[0].facts}
    if len(every) > 1:
        facts["probes"] = [dict(v.facts, verdict=v.status.value) for v in every]
    return facts


def _part(plan: CheckPlan, part: Part, result: Optional[ProbeResult], where: str) -> _PartVerdict:
    hosts = _hosts(part)
    unprobed = {"hosts": list(part.context.get("hosts") or [])}
    if part.error:
        return _PartVerdict(Status.ERROR, part.error, facts=unprobed)
    if result is None:
        return _PartVerdict(Status.ERROR, f"not probed{hosts}", facts=unprobed)
    if not result.attempts and result.notes:  # the probe itself broke: nothing was learnt
        return _PartVerdict(Status.ERROR, "; ".join(result.notes) + hosts, facts=unprobed)
    verdict = _image(part, result, where, hosts) if isinstance(part.probe, ImageProbe) \
        else _url(plan, part, result, where, hosts)
    if result.notes:
        verdict = replace(verdict, message=f"{verdict.message} ({'; '.join(result.notes)})")
    return replace(verdict, facts=_part_facts(part, result))


def _part_facts(part: Part, result: ProbeResult) -> dict:
    """What a probe met, as plain values: the URL or image, the endpoint that served, what failed before it.

    Every URL here is one without credentials (probes and attempts hold no other)."""
    facts: dict = {"hosts": list(part.context.get("hosts") or [])}
    served = result.served
    if isinstance(part.probe, ImageProbe):
        route = part.probe.route
        needs = part.context.get("needs") or []
        facts.update(reference=part.context.get("reference"), registry=route.registry, source=route.source)
        pins = sorted({p for p in (_pinned(n.get("digest")) for n in needs) if p})
        facts["expected"] = {"platforms": sorted({f"linux/{n['arch']}" for n in needs})}
        if pins:
            facts["expected"]["digest"] = ", ".join(pins)
        if served is not None:
            info = served.info
            facts["found"] = {"platforms": sorted(info.get("platforms") or {}) or None, "digest": info.get("digest")}
            facts["media_type"] = info.get("media_type")
    else:
        facts["url"] = part.context.get("url")
        if served is not None:
            facts["answer"] = f"{served.info.get('method', 'HEAD')} {served.info.get('status')}"
            if served.info.get("size") is not None:
                facts["size"] = served.info["size"]
    facts["endpoint"] = served.where if served is not None else None
    tried = [f"{a.where}: {a.error}" for a in result.attempts if not a.ok]
    if tried:
        facts["tried"] = tried
    return facts


def _hosts(part: Part) -> str:
    """The hosts a shared probe stands for, when it stands for several."""
    names = part.context.get("hosts") or []
    return f" (for {', '.join(names)})" if len(names) > 1 else ""


# -- files and repos --------------------------------------------------------------


def _url(plan: CheckPlan, part: Part, result: ProbeResult, where: str, hosts: str) -> _PartVerdict:
    assumed = part.context.get("assumed") or []
    said = f" [{'; '.join(assumed)}]" if assumed else ""
    served = result.served
    if served is not None:
        accept = part.probe.accept_types
        kind = served.info.get("content_type")
        if accept and kind not in accept:
            return _PartVerdict(Status.FAIL, f"{served.where} answers with Content-Type {kind or 'none'}: "
                                             f"not {_what(plan)} ({', '.join(accept)}){said}{hosts}")
        size = served.info.get("size")
        how = f"{served.info.get('method', 'HEAD')} {served.info.get('status')}" + (f", {size} bytes" if size is not None else "")
        earlier = [a for a in result.attempts if not a.ok]
        tried = f" (after {'; '.join(a.error for a in earlier)})" if earlier else ""
        return _PartVerdict(Status.PASS, f"{served.where} answers ({how}){tried}{said}{hosts}")
    last = result.attempts[-1] if result.attempts else None
    if last is not None and plan.vantage != RUNNER and part.context.get("credentialed") \
            and last.is_a(errors.AuthenticationRequired):
        return _PartVerdict(Status.PASS, f"{last.where} is reachable from {where} and asks for credentials "
                                         f"(HTTP 401); they stay on the runner, which checks them{said}{hosts}")
    errors_seen = "; ".join(a.error or "" for a in result.attempts) or "no answer"
    return _PartVerdict(Status.FAIL, f"{errors_seen}{said}{hosts}")


def _what(plan: CheckPlan) -> str:
    return {"repo:pyrepo_index": "a PyPI simple index"}.get(plan.label, "what the repo should serve")


# -- images -----------------------------------------------------------------------


def _image(part: Part, result: ProbeResult, where: str, hosts: str) -> _PartVerdict:
    route = part.probe.route
    if route.error:
        return _PartVerdict(Status.FAIL, f"{route.error}{hosts}")
    notes = [f"{label} passed over: {why}" for label, why in route.passed_over]
    if not route.endpoints:
        return _PartVerdict(Status.FAIL, f"no endpoint may resolve a tag ({route.source}): {'; '.join(notes)}")
    warnings = []
    if route.public_fallback:
        warnings.append(f"{where}: {route.registry}: {route.source} falls back to {route.public_fallback}, "
                        "a public registry, when its mirrors fail")
    served = result.served
    failed = [a for a in result.attempts if not a.ok]
    quiet = served is not None and served.where.startswith("http://")
    tried = [f"{a.where} failed: {a.error}" for a in failed
             if not (quiet and a.role == INSECURE_TLS and a.is_a(errors.TLSHandshakeFailed))]
    if served is None:
        last = failed[-1] if failed else None
        if last is not None and where != "the runner" and part.context.get("credentialed") \
                and last.is_a(errors.AuthenticationRequired):
            return _PartVerdict(Status.PASS, f"{last.where} is reachable from {where} and asks for "
                                             "credentials (HTTP 401); they stay on the runner, which checks them"
                                             + _also(notes) + hosts, tuple(warnings))
        return _PartVerdict(Status.FAIL, ("; ".join(tried) or "no endpoint answered")
                            + f" ({route.source})" + _also(notes) + hosts, tuple(warnings))
    info = served.info
    platforms = info.get("platforms") or {}
    problems = _content_problems(info, platforms, part.context.get("needs") or [])
    summary = describe(info)
    via = f"from {served.where}" + (f" ({route.source})" if route.source else "")
    if tried:
        notes.insert(0, "after " + "; ".join(tried))
    if route.public_fallback and served.role == "server" and failed:
        return _PartVerdict(Status.FAIL, f"served only by {route.public_fallback}, a public registry, "
                                         f"because the mirrors failed: {'; '.join(tried)}" + hosts, tuple(warnings))
    if problems:
        return _PartVerdict(Status.FAIL, f"{'; '.join(problems)}; the registry serves {summary} {via}{hosts}",
                            tuple(warnings))
    pins = _pins_ok(info, platforms, part.context.get("needs") or [])
    return _PartVerdict(Status.PASS, f"{summary}{pins} {via}" + _also(notes) + hosts, tuple(warnings))


def _also(notes: list[str]) -> str:
    return f" ({'; '.join(notes)})" if notes else ""


def _content_problems(info: Mapping, platforms: Mapping[str, str], needs: list[Mapping]) -> list[str]:
    problems: list[str] = []
    is_index = info.get("media_type") in INDEX_TYPES
    archs = sorted({n["arch"] for n in needs})
    if is_index:
        missing = [a for a in archs if f"linux/{a}" not in platforms]
        if missing:
            problems.append(f"the index has no {', '.join('linux/' + a for a in missing)} image "
                            f"(needed by {_who(needs, missing)})")
    elif len(archs) > 1:
        problems.append(f"a single-platform manifest cannot serve {' and '.join(archs)} hosts")
    for need in needs:
        pinned = _pinned(need.get("digest"))
        if pinned is None:
            continue
        own = f"linux/{need['arch']}"
        where = pin_in_tag(pinned, info, own)
        if where in (WHOLE, own):
            continue
        if where is not None:
            problems.append(f"{need['host']} pins {pinned}, the {where} manifest of the index, but is {own}")
        else:
            problems.append(f"{need['host']} pins {pinned}")
    return list(dict.fromkeys(problems))


def _pins_ok(info: Mapping, platforms: Mapping[str, str], needs: list[Mapping]) -> str:
    pinned = {_pinned(n.get("digest")) for n in needs} - {None}
    if not pinned:
        return ""
    if pinned == {info.get("digest")}:
        return ", the pinned digest"
    return ", holding the pinned " + ", ".join(sorted(pinned))


def _pinned(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    try:
        return normalize_digest(value)
    except ValueError:
        return value


def _who(needs: list[Mapping], archs: list[str]) -> str:
    return ", ".join(sorted({n["host"] for n in needs if n["arch"] in archs}))
