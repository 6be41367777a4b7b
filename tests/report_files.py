"""Reading the reports a run wrote, as a CI server would: JUnit validated against the schema, then read
back with junitparser; the JSON report; the summary table of the terminal output."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

SCHEMA = Path(__file__).resolve().parent / "data" / "junit" / "junit-10.xsd"
OUTCOMES = {Failure: "fail", Error: "error", Skipped: "skip"}


@lru_cache(maxsize=1)
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def validate_junit(path: Path) -> None:
    """Raises (with the offending element) when `path` is not valid JUnit XML under junit-10.xsd."""
    schema().validate(str(path))


def junit_suites(path: Path) -> dict[str, dict]:
    """{suite: {"tests", "failures", "errors", "skipped", "properties": {name: value},
    "cases": {(classname, name): (verdict, message, system-out)}}}, after validating the file.

    A pass's message is the `message:` line its system-out opens with."""
    validate_junit(path)
    suites = {}
    for suite in JUnitXml.fromfile(str(path)):
        cases = {}
        for case in suite:
            out = case.system_out or ""
            verdict, message = "pass", out.split("\n", 1)[0].removeprefix("message: ") if out.startswith("message: ") else ""
            for result in case.result:
                verdict, message = OUTCOMES[type(result)], result.message or ""
            assert (case.classname, case.name) not in cases, f"{suite.name}: {case.classname} {case.name} twice"
            cases[(case.classname, case.name)] = (verdict, message, case.system_out or "")
        suites[suite.name] = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors,
                              "skipped": suite.skipped, "properties": {p.name: p.value for p in suite.properties()},
                              "cases": cases}
    return suites


def json_report(path: Path) -> dict:
    data = json.loads(path.read_text())
    assert data["schema"] == 1
    return data


def json_cases(report: dict) -> dict[tuple[str, str, str], tuple[str, str]]:
    """{(vantage, kind, item): (verdict, message)} of a JSON report."""
    return {(vantage, c["kind"], c["item"]): (c["verdict"], c["message"])
            for vantage, suite in report["suites"].items() for c in suite["cases"]}


ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+(.*))?$")


def summary_table(stdout: str) -> dict[str, dict]:
    """{suite: {"pass", "fail", "error", "skip", "worst"}} from the summary table a run printed."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "kubespray-verify summary" in line)
    assert lines[start + 1].split()[:5] == ["suite", "pass", "fail", "error", "skip"], lines[start + 1]
    rows = {}
    for line in lines[start + 2:]:
        found = ROW.match(line)
        if not found:
            break
        name, *counts, worst = found.groups()
        rows[name] = {**dict(zip(("pass", "fail", "error", "skip"), map(int, counts))), "worst": worst or ""}
    return rows


def without_times(value):
    """A report with its times taken out: what two runs of the same inputs must agree on."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in ("seconds", "timings", "time")}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def junit_without_times(path: Path) -> str:
    return re.sub(r' time="[0-9.]+"', "", path.read_text())
