"""The run's results for the reports: gathered from pytest's reports on the controller, written at the end.

Where a check runs (this process, or an xdist worker), a report wrapper puts on each phase's report
a small plain record, `report.kubespray_verify`: the check's vantage point, kind and item, what the
phase said (verdict, message) and the facts of the verdict its fixture recorded with
`record_verdict(request.node, verdict)`. Only the controller (the one process without `-n`, xdist's
controller with it) gathers them, from `pytest_runtest_logreport`, which sees every worker's reports;
only it writes `--report-junit` and `--report-json` and prints the summary table.

What `--fix` did goes in a user property named `kubespray_verify.fix` whose value is a JSON-able
dict: `request.node.user_properties.append(("kubespray_verify.fix", {"action": ..., ...}))`. The
case's facts carry it as `fix`. Properties named `kubespray_verify.*` are the suite's own: they are
taken off the report before pytest's `--junitxml` writes it, whose schema has no testcase properties.

The summary replaces pytest's own account of failures: when `--tb` and `-r` are left at their
defaults, pytest's FAILURES/ERRORS sections and its short summary are not printed (each failure is
said once, in the table's findings); given explicitly, they are pytest's as usual. Exit statuses
are pytest's.
"""

from __future__ import annotations

import os
import shlex
import time
from importlib import metadata
from typing import Optional

import pytest

from reports.model import CLUSTER, Case, Phase, RunResult, Suite, order_suites, scrubbed, settle

VERDICT = pytest.StashKey[object]()
RESULTS = pytest.StashKey["Collector"]()
FIX_PROPERTY = "kubespray_verify.fix"
OWN_PROPERTIES = "kubespray_verify."
OPTIONS = (("kv_report_junit", "--report-junit"), ("kv_report_json", "--report-json"))


def record_verdict(node, verdict) -> None:
    """Keep `verdict` (a `verdicts.status.Verdict`) as the check's: its message and facts go into the reports."""
    node.stash[VERDICT] = verdict


def is_worker(config) -> bool:
    return hasattr(config, "workerinput")


# -- which vantage point, kind and item a check is about ------------------------------------------

# The parameter a check is parametrized over → its kind; the vantage point is the check's host.
NODE_PARAMETERS = {"download_image": "image", "download_file": "file", "installed_binary": "installed_binary"}
CHECK_KINDS = {"test_image": "image", "test_file": "file", "test_installed_binary": "installed_binary",
               "test_mirror": "mirror", "test_downloads_resolve": "expected"}


def identity(item) -> tuple[str, str, str]:
    params = item.callspec.params if hasattr(item, "callspec") else {}
    for param, kind in NODE_PARAMETERS.items():
        if hasattr(params.get(param), "name"):
            return params["inventory_host"], kind, params[param].name
    if isinstance(params.get("mirror_check"), tuple):
        vantage, label = params["mirror_check"]
        return vantage, "mirror", label
    if hasattr(params.get("host_expectation"), "host"):
        return params["host_expectation"].host, "expected", "downloads"
    if hasattr(params.get("pinned_image"), "label"):
        return CLUSTER, "lint", params["pinned_image"].label
    if item.get_closest_marker("lint"):
        return CLUSTER, "lint", item.originalname.removeprefix("test_")
    return identity_of_nodeid(item.nodeid)


def identity_of_nodeid(nodeid: str) -> tuple[str, str, str]:
    """For a report that carries no record (a crashed worker's): the id's `vantage::item`, the check's kind."""
    name = nodeid.rsplit("::", 1)[-1]
    function, _, param = name.partition("[")
    kind = CHECK_KINDS.get(function, "check")
    if "::" in param:
        vantage, item = param.rstrip("]").split("::", 1)
        return vantage, kind, item
    return CLUSTER, kind, name


# -- where a check runs -----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    vantage, kind, name = identity(item)
    verdict, message, detail = phase_outcome(item, call, report)
    recorded = item.stash.get(VERDICT, None)
    facts = dict(getattr(recorded, "facts", None) or {})
    if getattr(recorded, "warnings", None):
        facts["warnings"] = list(recorded.warnings)
    report.kubespray_verify = {"vantage": vantage, "kind": kind, "item": name, "verdict": verdict,
                               "message": message, "detail": detail, "facts": facts}
    return report


def phase_outcome(item, call, report) -> tuple[str, str, str]:
    """(verdict, message, detail) of one phase: a wrong state is a failure, what could not be told an error."""
    from kubespray_verify.errors import VerifyError

    recorded = item.stash.get(VERDICT, None)
    exc = call.excinfo.value if call.excinfo is not None else None
    if report.passed:
        return "pass", (getattr(recorded, "message", "") or "") if call.when == "call" else "", ""
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return "skip", f"expected to fail: {report.wasxfail}".rstrip(": "), ""
        return "skip", getattr(exc, "msg", None) or _skip_reason(report), ""
    if isinstance(exc, VerifyError):
        return "error", str(exc), ""
    if call.when == "call" and isinstance(exc, pytest.fail.Exception):
        return "fail", exc.msg or "", "" if not exc.pytrace else report.longreprtext
    if call.when == "call" and isinstance(exc, AssertionError):
        return "fail", str(exc).split("\nassert ")[0], report.longreprtext
    said = f"{type(exc).__name__}: {exc}" if exc is not None else report.longreprtext.strip().splitlines()[-1:]
    return "error", str(said), report.longreprtext


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


# -- on the controller --------------------------------------------------------------------------------


def pytest_configure(config):
    if is_worker(config):
        return
    from reports.output import ReportPathError, check_writable

    paths = {}
    for dest, option in OPTIONS:
        given = config.getoption(dest, None)
        if given:
            try:
                paths[option] = check_writable(given, option)
            except ReportPathError as exc:
                raise pytest.UsageError(str(exc)) from None
    collector = Collector(config, paths)
    config.stash[RESULTS] = collector
    config.pluginmanager.register(collector, "kubespray-verify-results")


def pytest_unconfigure(config):
    collector = config.stash.get(RESULTS, None)
    if collector is not None:
        del config.stash[RESULTS]
        config.pluginmanager.unregister(collector)


class Collector:
    """The controller's plugin: every check's phases as they arrive, the reports written at the end."""

    def __init__(self, config, paths: dict):
        self.config = config
        self.paths = paths  # option → absolute path
        self.records: dict[str, dict] = {}
        self.phases: dict[str, list[Phase]] = {}
        self.fixes: dict[str, object] = {}
        self.order: dict[str, int] = {}
        self.started = time.monotonic()
        self.result: Optional[RunResult] = None

    # -- what the run says -----------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        """With `--tb` and `-r` at their defaults, pytest's failure sections give way to the findings."""
        self.started = time.monotonic()
        config = self.config
        if not _suite_run(config):
            return
        if not _given(config, "--tb"):
            config.option.tbstyle = "no"
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not _given(config, "-r"):
            reporter.reportchars = reporter.reportchars.replace("f", "").replace("E", "")

    def pytest_collection_finish(self, session):
        if not self.order:
            self.order = {item.nodeid: i for i, item in enumerate(session.items)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        if not self.order:
            self.order = {nodeid: i for i, nodeid in enumerate(ids)}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        self.add(report)
        # The suite's own properties are the reports' business: pytest's --junitxml (after this) does not see
        # them (its schema has no properties on a testcase).
        report.user_properties[:] = [(n, v) for n, v in report.user_properties
                                     if not str(n).startswith(OWN_PROPERTIES)]

    def pytest_collectreport(self, report):
        if report.failed:
            said = report.longreprtext.strip().splitlines()
            nodeid = report.nodeid or "collection"
            self.records[nodeid] = {"vantage": CLUSTER, "kind": "collection", "item": nodeid, "facts": {}}
            self.phases[nodeid] = [Phase("setup", "error", said[-1] if said else "collection failed", 0.0,
                                         report.longreprtext)]

    def add(self, report) -> None:
        record = getattr(report, "kubespray_verify", None)
        nodeid = report.nodeid
        if record is None:  # a report made for the check, not by it (an xdist worker that crashed)
            vantage, kind, item = identity_of_nodeid(nodeid)
            said = report.longreprtext.strip().splitlines()
            record = {"vantage": vantage, "kind": kind, "item": item,
                      "verdict": {"passed": "pass", "skipped": "skip"}.get(report.outcome, "error"),
                      "message": said[-1] if said else "", "detail": report.longreprtext, "facts": {}}
        kept = self.records.setdefault(nodeid, dict(record))
        if record.get("facts"):
            kept["facts"] = record["facts"]
        self.phases.setdefault(nodeid, []).append(
            Phase(report.when, record["verdict"], record.get("message") or "", report.duration,
                  record.get("detail") or ""))
        for name, value in report.user_properties:
            if name == FIX_PROPERTY:
                self.fixes[nodeid] = value

    def cases(self) -> list[Case]:
        found = []
        for nodeid, record in self.records.items():
            verdict, message, detail = settle(self.phases[nodeid])
            facts = dict(record.get("facts") or {})
            if nodeid in self.fixes:
                facts["fix"] = self.fixes[nodeid]
            found.append(Case(record["vantage"], record["kind"], record["item"], verdict, message, facts,
                              nodeid, sum(p.seconds for p in self.phases[nodeid]), detail))
        last = len(self.order)
        return sorted(found, key=lambda c: (self.order.get(c.test, last), c.test))

    # -- the reports -------------------------------------------------------------------------------
    def build(self, exitstatus) -> RunResult:
        from reports import context as about
        from kubespray_verify_pytest import inventory_option, limit_option
        from plugins.expected_state import EXPECTED_STATE, RESOLVE_SECONDS
        from plugins.mirror_checks import mirror_stats
        from plugins.observations import made_observation

        config = self.config
        state = config.stash.get(EXPECTED_STATE, None)
        observation = made_observation(config)
        context = about.run_context(state, inventory_option(config), limit_option(config), _versions())
        common = about.common_properties(context)
        nodes = about.node_properties(state, observation)
        suites: dict[str, Suite] = {}
        for case in self.cases():
            suites.setdefault(case.vantage, Suite(case.vantage)).cases.append(case)
        for name in set(nodes) | set(suites):
            suite = suites.setdefault(name, Suite(name))
            suite.properties = {**common, **nodes.get(name, {})}
        final = getattr(observation, "state", None) or state
        ordered = order_suites(suites, list(final.hosts) if final is not None else [])
        timings = about.timings(time.monotonic() - self.started, config.stash.get(RESOLVE_SECONDS, None),
                                observation, mirror_stats(config))
        return scrubbed(RunResult(ordered, context, about.expected_summary(final), timings, int(exitstatus)))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.config.option.collectonly or not _suite_run(self.config):
            return
        from reports import json_report, junit
        from reports.output import write

        self.result = self.build(exitstatus)
        writers = {"--report-junit": junit.to_xml, "--report-json": json_report.dumps}
        for option, path in self.paths.items():
            write(path, writers[option](self.result))

    def pytest_terminal_summary(self, terminalreporter):
        result = self.result
        if result is None or self.config.get_verbosity() < -1:
            return
        from reports import terminal

        width = self.config.get_terminal_writer().fullwidth
        terminalreporter.write_sep("=", "kubespray-verify summary")
        for line in terminal.table(result, width):
            _write_line(terminalreporter, line)
        findings = terminal.findings(result, width)
        if findings:
            terminalreporter.write_sep("-", "failures and errors, by vantage point")
            for line in findings:
                _write_line(terminalreporter, line)
        for option, path in self.paths.items():
            terminalreporter.write_line(f"{option.removeprefix('--')}: {path}")


def _write_line(terminalreporter, line) -> None:
    for text, markup in line:
        terminalreporter.write(text, **markup)
    terminalreporter.write("\n")


def _given(config, option: str) -> bool:
    """Whether the run was given `option` (on the command line, in PYTEST_ADDOPTS or the ini's addopts)."""
    args = [*map(str, config.invocation_params.args), *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
            *config.getini("addopts")]
    if option.startswith("--"):
        return any(a == option or a.startswith(option + "=") for a in args)
    return any(a.startswith(option) and not a.startswith("--") for a in args)


def _suite_run(config) -> bool:
    from kubespray_verify_pytest import inventory_option

    return bool(inventory_option(config))


def _versions() -> dict[str, str]:
    found = {}
    for name in ("kubespray-verify", "ansible-core"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
