"""Under `pytest -n`, every node is still probed once per run (one SSH session each), the verdicts are the
same as in one process, and no report is written by a worker."""

from __future__ import annotations

import pytest

from tests.lab.suite_run import run_suite, sessions

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("workers", ["0", "2"])
def test_each_node_is_probed_once_whatever_the_workers(lab, tmp_path, workers):
    before = sessions(lab)
    cases, _ = run_suite(lab, tmp_path, "-m", "images or files", "-n", workers, check=True)
    after = sessions(lab)
    assert {n: after[n] - before[n] for n in after} == {n: 1 for n in after}
    assert cases and all(outcome == "passed" for outcome, _ in cases.values())
    expected = sum(len(h.items) for h in lab.expected.hosts.values())
    assert len([c for c in cases if c.startswith(("test_image[", "test_file["))]) == expected
