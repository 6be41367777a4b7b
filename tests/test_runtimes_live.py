"""The parsers against runtimes running now: `capture_runtimes.capture` on fresh daemons.

Needs root, the lab's packages (docker-registry, containerd, runc,
docker.io, podman) and grpcio for containerd's CRI (`pip install -e '.[test]'`).
Where they cannot run, these tests skip; with KUBESPRAY_VERIFY_REQUIRE_LAB=1
(CI sets it) they fail instead.
"""

import json
import os

import pytest

from tests.capture_runtimes import CRI_RESPONSE, LISTINGS, capture, facts, node_platform
from tests.cri import decode_list_images_response, render_crictl_json
from tests.runtime_lab import LabUnavailable
from tests.test_runtimes import DATA, META, PARSERS, listing

REQUIRE_LAB = os.environ.get("KUBESPRAY_VERIFY_REQUIRE_LAB") == "1"
PLACEHOLDER = "registry.lab.invalid:5000"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """(outdir, capture.json) of a live capture, or the reason it could not run."""
    outdir = tmp_path_factory.mktemp("live-runtimes")
    try:
        return outdir, capture(outdir), None
    except LabUnavailable as exc:
        return outdir, None, str(exc)


def require(live):
    outdir, meta, reason = live
    if reason:
        if REQUIRE_LAB:
            pytest.fail(f"KUBESPRAY_VERIFY_REQUIRE_LAB=1 but {reason}")
        pytest.skip(reason)
    return outdir, meta


def live_listing(outdir, runtime):
    return PARSERS[runtime]((outdir / LISTINGS[runtime]).read_text())


FACTS = facts(PLACEHOLDER, node_platform())


@pytest.mark.parametrize("index", range(len(FACTS)), ids=[f.id.replace(PLACEHOLDER, "<registry>") for f in FACTS])
def test_live_listing_shows(live, index):
    outdir, meta = require(live)
    fact = facts(meta["registry"], meta["platform"])[index]
    fact.check(live_listing(outdir, fact.runtime))


@pytest.mark.parametrize("runtime", sorted(PARSERS))
def test_live_listing_matches_recorded_fixture(live, runtime):
    """The fixtures still say what these runtimes print (registry address aside)."""
    outdir, meta = require(live)
    if meta["platform"] != META["platform"]:
        pytest.skip(f"fixtures were recorded on {META['platform']}, this node is {meta['platform']}")

    def summary(images, registry):
        return sorted(i.describe().replace(registry, PLACEHOLDER) for i in images)

    assert summary(live_listing(outdir, runtime), meta["registry"]) == summary(listing(runtime), META["registry"])


def test_live_crictl_listing_is_the_response_rendered(live):
    """What the capture wrote for crictl is the CRI's answer of this run, rendered."""
    outdir, meta = require(live)
    response = (outdir / CRI_RESPONSE).read_bytes()
    assert render_crictl_json(decode_list_images_response(response)) == (outdir / LISTINGS["crictl"]).read_text()
    assert meta["versions"]["cri"].startswith("containerd ")
    assert "image_fields_not_rendered" not in meta["crictl"], "containerd sent Image fields the rendering leaves out"


def test_live_crictl_matches_recorded_fixture_in_full(live):
    """Every field of every CRI image (sizes, users, pins too) is what the fixture says, registry aside.

    Compared without order: containerd lists its CRI images in no fixed
    order, and crictl's sort does not order untagged images among tagged ones.
    """
    outdir, meta = require(live)
    if meta["platform"] != META["platform"]:
        pytest.skip(f"fixtures were recorded on {META['platform']}, this node is {meta['platform']}")

    def entries(text, registry):
        images = json.loads(text.replace(registry, PLACEHOLDER))["images"]
        return sorted(json.dumps(i, sort_keys=True) for i in images)

    live_text = (outdir / LISTINGS["crictl"]).read_text()
    assert entries(live_text, meta["registry"]) == entries((DATA / LISTINGS["crictl"]).read_text(), META["registry"])


def test_recorded_fixtures_are_where_the_capture_writes():
    assert all((DATA / rel).is_file() for rel in [*LISTINGS.values(), CRI_RESPONSE])
