"""Every applicable item of every host resolves: no undefined variable, no missing checksum."""


def test_downloads_resolve(host_expectation):
    errors = "; ".join(f"{e.name}: {e.error}" for e in host_expectation.errors)
    assert not host_expectation.errors, f"{host_expectation.host}: {errors}"
