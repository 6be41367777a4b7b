"""Every applicable item of every host resolves: no undefined variable, no missing checksum."""

import pytest


def test_downloads_resolve(host_expectation):
    if host_expectation.errors:
        errors = "; ".join(f"{e.name}: {e.error}" for e in host_expectation.errors)
        pytest.fail(f"{host_expectation.host}: {errors}", pytrace=False)
