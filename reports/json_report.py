"""The JSON report: every verdict of the run with its facts, for dashboards and for diffing two runs.

Schema 1 (a later schema adds keys; it renames or removes none):

    {
      "schema": 1,
      "kubespray_verify": "0.1.0",
      "kubespray": {"version": "2.29.0", "dir": "/srv/kubespray"},
      "ansible_core": "2.18.1",
      "inventory": ["/srv/inventory/hosts.yml"], "limit": null,
      "exit_status": 1,                      pytest's exit status (0 all green, 1 a failure or error...)
      "totals": {"pass": n, "fail": n, "error": n, "skip": n},
      "expected": {                          the expected state, summed up
        "download": {"run_once": false, "host": null},
        "notes": ["..."],
        "hosts": {"node1": {"arch": "amd64", "facts_source": "node", "container_manager": "containerd",
                            "images": 21, "files": 14, "unresolved": 0}}},
      "suites": {                            one per vantage point: each node, "runner", "cluster"
        "node1": {
          "totals": {"pass": n, "fail": n, "error": n, "skip": n},
          "properties": {"runtime": "containerd", "architecture": "x86_64", ...},
          "cases": [{"kind": "image", "item": "calico_node", "verdict": "fail", "message": "...",
                     "facts": {"expected": {...}, "found": {...}, "reference": "...", ...},
                     "test": "checks/test_images.py::test_image[node1::calico_node]", "seconds": 0.002}]}},
      "timings": {"session": s, "resolve": s,
                  "observe": {"node1": {"seconds": s, "round_trips": 1}},
                  "mirrors": {"runner": {"checks": n, "probes": n, "requests": n, "seconds": s}}}
    }

Suites and cases come in the same order on every run of the same inputs (the order of the
inventory and of collection); two runs differ only by their times (`seconds`, `timings`) when
their verdicts agree. Under `--fix`, a case's `facts.fix` says what was done.
"""

from __future__ import annotations

import json

from reports.model import RunResult

SCHEMA = 1


def to_json(result: RunResult) -> dict:
    context = result.context
    return {
        "schema": SCHEMA,
        "kubespray_verify": context.get("kubespray_verify"),
        "kubespray": context.get("kubespray", {}),
        "ansible_core": context.get("ansible_core"),
        "inventory": list(context.get("inventory", [])),
        "limit": context.get("limit"),
        "exit_status": result.exit_status,
        "totals": result.totals,
        "expected": result.expected,
        "suites": {s.name: {"totals": s.totals, "properties": dict(s.properties),
                            "cases": [c.to_json() for c in s.cases]} for s in result.suites},
        "timings": result.timings,
    }


def dumps(result: RunResult) -> str:
    return json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"
