"""Turn a node's observation into one verdict per (host, item).

A verdict that fails is a test failure; one that cannot be established
(node unreachable, image list unreadable, digest unverifiable) is raised
while the fixture sets up, so it is reported as an error (JUnit `<error>`),
never as a pass.
"""

from __future__ import annotations

import pytest

from kubespray_verify.errors import CheckError
from kubespray_verify.evidence import node_images, observed_file, registry_facts_from_blobs
from kubespray_verify.model import FileItem, ImageItem
from kubespray_verify.observe import installed_path
from kubespray_verify.verdicts import RegistryFacts, Status, Verdict, file_verdict, image_verdict

def _node(cluster, host: str):
    obs = cluster.nodes[host]
    if obs.error:
        raise CheckError(obs.error)
    return obs, cluster.state.hosts[host]


def _current(exp, item, kind):
    """The item as resolved with the node's own facts (its checksum may depend on them)."""
    current = exp.item(item.name)
    if current is None or not isinstance(current, kind):
        raise CheckError(
            f"{exp.host}: {item.name} does not apply once the node's architecture ({exp.arch}) is known"
        )
    return current


def _settle(verdict: Verdict) -> Verdict:
    if verdict.status == Status.ERROR:
        raise CheckError(verdict.message)
    return verdict


@pytest.fixture(scope="session")
def registry_evidence(pytestconfig):
    from kubespray_verify import site
    from kubespray_verify.registry_evidence import RegistryEvidence
    from kubespray_verify_pytest import resolution_options

    options = resolution_options(pytestconfig)
    settings = site.load(options.inventory, options.extra_vars, options.limit,
                         ca_bundle=pytestconfig.getoption("kv_registry_ca"))
    evidence = RegistryEvidence(settings)
    yield evidence
    evidence.close()


@pytest.fixture
def image_verdict_for(cluster, inventory_host, download_image, request) -> Verdict:
    obs, exp = _node(cluster, inventory_host)
    item = _current(exp, download_image, ImageItem)
    images, runtime = node_images(obs)
    platform = f"linux/{exp.arch}"
    local = registry_facts_from_blobs(obs)
    verdict = image_verdict(item, images, runtime=runtime, platform=platform, facts=local)
    if verdict.status != Status.PASS and item.digest and item.digest not in local.children \
            and item.digest not in local.configs:
        # The node's own documents do not describe the pinned digest (an image loaded from a tarball
        # has another manifest, docker keeps no index): the registry's documents settle it.
        remote, why_not = request.getfixturevalue("registry_evidence").facts(item)
        if remote is None:
            if verdict.status == Status.ERROR:
                raise CheckError(f"{verdict.message}; {why_not}")
        else:
            merged = RegistryFacts(children={**local.children, **remote.children},
                                   configs={**local.configs, **remote.configs})
            verdict = image_verdict(item, images, runtime=runtime, platform=platform, facts=merged)
    return _settle(verdict)


@pytest.fixture
def file_verdict_for(cluster, inventory_host, download_file) -> Verdict:
    obs, exp = _node(cluster, inventory_host)
    item = _current(exp, download_file, FileItem)
    return _settle(file_verdict(item, observed_file(obs, item.dest, inventory_host)))


@pytest.fixture
def installed_binary_verdict(cluster, inventory_host, installed_binary) -> Verdict:
    obs, exp = _node(cluster, inventory_host)
    item = _current(exp, installed_binary, FileItem)
    path = installed_path(exp, item)
    found = observed_file(obs, path, inventory_host)
    if not found.exists:
        pytest.skip(f"{inventory_host}: {path} not installed yet")
    # The installed copy is Kubespray's copy of the download: same content; its mode is bin_dir's.
    installed = FileItem(name=item.name, url=item.url, dest=path, checksum=item.checksum, unarchive=False,
                         owner=item.owner, mode=None, groups=item.groups)
    return _settle(file_verdict(installed, found))
