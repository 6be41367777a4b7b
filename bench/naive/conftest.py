"""The naive testinfra suite the benchmark compares against: one remote command per check.

Hosts and items come from the suite's expected state (so all contenders check
the same things); connections are testinfra's own `ansible://` backend.
"""

import json
import os

import pytest


def pytest_generate_tests(metafunc):
    state = json.loads(open(os.environ["KV_BENCH_EXPECTED"]).read())
    pairs = [(host, item) for host, exp in state["hosts"].items() for item in exp["items"]]
    if "naive_file" in metafunc.fixturenames:
        chosen = [(h, i) for h, i in pairs if i["kind"] == "file"]
        metafunc.parametrize(("node_name", "naive_file"), chosen, ids=[f"{h}::{i['name']}" for h, i in chosen])
    if "naive_image" in metafunc.fixturenames:
        chosen = [(h, i, state["hosts"][h]["container_manager"]) for h, i in pairs if i["kind"] == "image"]
        metafunc.parametrize(("node_name", "naive_image", "runtime"), chosen,
                             ids=[f"{h}::{i['name']}" for h, i, _ in chosen])


@pytest.fixture
def node(node_name, request):
    import testinfra

    return testinfra.get_host(f"ansible://{node_name}", ansible_inventory=os.environ["KV_BENCH_INVENTORY"])
