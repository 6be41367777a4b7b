"""Verdicts: expected images and files against what nodes hold.

Image cases run on the real runtime listings in tests/data/runtimes/ (see
capture_runtimes.py): the digests are those of the images the capture
pushed, and the registry facts are what the registry says about them.
"""

import pytest

from tests.capture_runtimes import IMAGES, MIRROR_NAME, RETAGGED, child
from kubespray_verify.oci import Index
from kubespray_verify.model import FileItem, ImageItem
from kubespray_verify.refs import parse_reference
from kubespray_verify.runtimes.parsers import NodeImage, parse_crictl_images
from kubespray_verify.verdicts.node import ObservedFile, RegistryFacts, file_verdict, image_verdict
from kubespray_verify.verdicts.status import Status
from tests.test_runtimes import META, crictl_sample, listing

R = META["registry"]
PLATFORM = META["platform"]
OTHER_PLATFORM = "linux/arm64" if PLATFORM != "linux/arm64" else "linux/amd64"

SINGLE_OCI = IMAGES["demo/single-oci:1.0"]
SINGLE_DOCKER = IMAGES["demo/single-docker:1.0"]
MULTI = IMAGES["demo/multi:1.0"]
PAUSE31 = IMAGES["pause:3.1"]
PAUSE310 = IMAGES["pause:3.10"]
RETAG_V1 = IMAGES["demo/retag:1.0"]


def registry_facts() -> RegistryFacts:
    """What the lab registry says about everything the capture pushed."""
    children, configs = {}, {}
    for pushed in [*IMAGES.values(), RETAGGED]:
        if isinstance(pushed, Index):
            children[pushed.digest] = {str(i.platform): i.digest for i in pushed.images}
            configs.update({i.manifest.digest: i.config.digest for i in pushed.images})
        else:
            configs[pushed.manifest.digest] = pushed.config.digest
    return RegistryFacts(children=children, configs=configs)


FACTS = registry_facts()
NO_FACTS = None
ALL = ("containerd", "docker", "podman", "storage")


def item(ref: str, digest=None, name="demo") -> ImageItem:
    repo, tag = ref.rsplit(":", 1)
    return ImageItem(name=name, repo=repo, tag=tag, digest=digest, groups=("k8s_cluster",))


# (runtimes, reference, pinned digest, registry facts, status, words the message must contain)
CASES = [
    (ALL, f"{R}/demo/single-oci:1.0", SINGLE_OCI.manifest.digest, NO_FACTS, Status.PASS, ["holds the pinned digest"]),
    (ALL, f"{R}/demo/single-oci:1.0", None, NO_FACTS, Status.PASS, ["no digest pinned"]),
    (ALL, f"{R}/demo/multi:1.0", MULTI.digest, NO_FACTS, Status.PASS, ["holds the pinned digest"]),
    # Pinned to the node platform's manifest of an index: containers-storage keeps it...
    (("podman", "storage"), f"{R}/demo/multi:1.0", child(MULTI, PLATFORM).manifest.digest, NO_FACTS, Status.PASS, ["holds the pinned"]),
    # ...containerd and docker hold only the index: the registry must say what is in it.
    (("containerd", "docker"), f"{R}/demo/multi:1.0", child(MULTI, PLATFORM).manifest.digest, FACTS, Status.PASS, [f"whose {PLATFORM} manifest is the pinned"]),
    (("containerd", "docker"), f"{R}/demo/multi:1.0", child(MULTI, PLATFORM).manifest.digest, NO_FACTS, Status.ERROR, ["unverifiable", MULTI.digest]),
    # Pinned to another platform's manifest: the node's image is not it.
    (ALL, f"{R}/demo/multi:1.0", child(MULTI, OTHER_PLATFORM).manifest.digest, FACTS, Status.FAIL, [child(MULTI, OTHER_PLATFORM).config.digest]),
    # The mirror name: the same image under a second name.
    (ALL, MIRROR_NAME, PAUSE310.manifest.digest, NO_FACTS, Status.PASS, ["registry.k8s.io/pause:3.10", "holds the pinned"]),
    # pause:3.1 was removed. containerd's CRI row still holds its digest and ID: still missing.
    (ALL, f"{R}/pause:3.1", PAUSE31.manifest.digest, FACTS, Status.FAIL, ["missing", "other tags: 3.10"]),
    (ALL, "registry.k8s.io/pause:3.1", PAUSE31.manifest.digest, FACTS, Status.FAIL, ["missing", "registry.k8s.io/pause has other tags: 3.10"]),
    (ALL, "registry.k8s.io/demo/single-oci:1.0", SINGLE_OCI.manifest.digest, NO_FACTS, Status.FAIL, ["missing", f"present only as {R}/demo/single-oci:1.0", "is held by"]),
    # The tag moved to new content; the pin is the old one.
    (ALL, f"{R}/demo/retag:1.0", RETAG_V1.manifest.digest, FACTS, Status.FAIL, [f"expected {RETAG_V1.manifest.digest}", RETAGGED.manifest.digest]),
    (("containerd",), f"{R}/demo/retag:1.0", RETAG_V1.manifest.digest, NO_FACTS, Status.FAIL, [f"expected {RETAG_V1.manifest.digest}"]),
    # Loaded from a tarball: only the image ID is left to compare.
    (ALL, f"{R}/demo/single-docker:1.0", SINGLE_DOCKER.manifest.digest, FACTS, Status.PASS, [f"image ID {SINGLE_DOCKER.config.digest} is the config digest"]),
    (("docker",), f"{R}/demo/single-docker:1.0", SINGLE_DOCKER.manifest.digest, NO_FACTS, Status.ERROR, ["no repo digest", "no config digest"]),
    (("podman", "storage"), f"{R}/demo/single-docker:1.0", SINGLE_DOCKER.manifest.digest, NO_FACTS, Status.ERROR, ["unverifiable"]),
    (("containerd",), f"{R}/demo/single-docker:1.0", SINGLE_DOCKER.manifest.digest, NO_FACTS, Status.FAIL, [f"expected {SINGLE_DOCKER.manifest.digest}"]),
    # Pins written the way users write them.
    (ALL, f"{R}/demo/single-oci:1.0", SINGLE_OCI.manifest.digest[7:].upper(), NO_FACTS, Status.PASS, ["holds the pinned"]),
    (ALL, f"{R}/demo/single-oci:1.0", "sha256:1234", NO_FACTS, Status.ERROR, ["pinned digest is unusable", "'sha256:1234'"]),
]


@pytest.mark.parametrize(
    "runtime, ref, pinned, facts, status, words",
    [
        pytest.param(rt, ref, pinned, facts, status, words, id=f"{rt}::{ref.replace(R, '<registry>')}::{status.value}::{'facts' if facts else 'no-facts'}")
        for runtimes, ref, pinned, facts, status, words in CASES
        for rt in runtimes
    ],
)
def test_image_verdict_on_captured_listings(runtime, ref, pinned, facts, status, words):
    verdict = image_verdict(item(ref, pinned), listing(runtime), runtime=runtime, platform=PLATFORM, facts=facts)
    assert verdict.status is status, verdict.message
    assert f"demo {parse_reference(ref)} on {runtime}" in verdict.message
    for word in words:
        assert word in verdict.message


def test_stale_containerd_row_holds_the_digest_of_the_missing_image():
    """The trap itself: a lookup by digest would find pause:3.1; the name says it is gone."""
    images = listing("containerd")
    assert any(PAUSE31.manifest.digest in i.digests and not i.names for i in images)
    verdict = image_verdict(item(f"{R}/pause:3.1", PAUSE31.manifest.digest), images, runtime="containerd", platform=PLATFORM, facts=FACTS)
    assert (verdict.status, verdict.message) == (
        Status.FAIL, f"demo {R}/pause:3.1 on containerd: missing ({R}/pause has other tags: 3.10)")
    assert verdict.facts["found"] == {"image": "missing"}
    assert verdict.facts["elsewhere"] == [f"{R}/pause has other tags: 3.10"]


# -- crictl samples (real outputs) ------------------------------------------------

IKS_PAUSE = "registry.eu-de.bluemix.net/armada-master/pause:3.2"
IKS_PAUSE_DIGEST = "sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108"
IKS_PAUSE_ID = "sha256:80d28bedfe5dec59da9ebf8e6260224ac9008ab5c11dbbe16ee3ba3e4439ac2c"
OTHER = "sha256:" + "e" * 64


@pytest.mark.parametrize(
    "sample, ref, pinned, facts, status",
    [
        ("iks-core-dump-handler.txt", IKS_PAUSE, IKS_PAUSE_DIGEST, None, Status.PASS),
        ("iks-core-dump-handler.txt", IKS_PAUSE, OTHER, None, Status.ERROR),
        ("iks-core-dump-handler.txt", IKS_PAUSE, OTHER, RegistryFacts(configs={OTHER: "sha256:" + "f" * 64}), Status.FAIL),
        ("iks-core-dump-handler.txt", IKS_PAUSE, OTHER, RegistryFacts(configs={OTHER: IKS_PAUSE_ID}), Status.PASS),
        ("iks-core-dump-handler.txt", IKS_PAUSE, OTHER, RegistryFacts(children={OTHER: {"linux/amd64": IKS_PAUSE_DIGEST}}), Status.PASS),
        ("iks-core-dump-handler.txt", "registry.eu-de.bluemix.net/armada-master/alpine:3.12", None, None, Status.FAIL),
        ("kind-anykap.txt", "kindest/kindnetd:v20230511-dc714da8", OTHER, None, Status.ERROR),
        ("kind-anykap.txt", "kindest/kindnetd:v20230511-dc714da8", OTHER, RegistryFacts(configs={OTHER: "sha256:b0b1fa0f58c6e932b7f20bf208b2841317a1e8c88cc51b18358310bbd8ec95da"}), Status.PASS),
        ("kind-anykap.txt", "kindest/kindnetd:v20230511-dc714da8", None, None, Status.PASS),
    ],
)
def test_image_verdict_on_crictl_samples(sample, ref, pinned, facts, status):
    images = parse_crictl_images(crictl_sample(sample))
    verdict = image_verdict(item(ref, pinned), images, runtime="cri-o", platform="linux/amd64", facts=facts)
    assert verdict.status is status, verdict.message


# -- edge cases ------------------------------------------------------------------------

D1, D2, C1, C2 = ("sha256:" + c * 64 for c in "1234")
X = parse_reference("r.io/x:1")


@pytest.mark.parametrize(
    "images, pinned, facts, status, words",
    [
        ([], D1, None, Status.FAIL, ["r.io/x:1 on rt: missing"]),
        ([NodeImage(frozenset({X}), image_id=C1), NodeImage(frozenset({X}), image_id=C2)], D1, None, Status.ERROR, ["on 2 images"]),
        ([NodeImage(frozenset({X}))], D1, None, Status.ERROR, ["no repo digest", "no image ID either"]),
        ([NodeImage(frozenset({X}), image_id=C1)], D1, RegistryFacts(configs={D1: C1}), Status.PASS, ["holds no registry digest"]),
        ([NodeImage(frozenset({X}), image_id=C2)], D1, RegistryFacts(configs={D1: C1}), Status.FAIL, [f"expected {D1} (image ID {C1}"]),
        # A pinned index with no manifest for the node's platform.
        ([NodeImage(frozenset({X}), image_id=C1, target_digest=D1)], D2, RegistryFacts(children={D2: {"linux/arm64": D1}}), Status.FAIL, ["has no linux/amd64 manifest", "linux/arm64"]),
        # A pinned index whose node-platform manifest is what the node holds.
        ([NodeImage(frozenset({X}), image_id=C1, target_digest=D1)], D2, RegistryFacts(children={D2: {"linux/amd64": D1}}), Status.PASS, ["the linux/amd64 manifest of the pinned index"]),
        # ctr says the target is a manifest: another digest is a plain mismatch.
        ([NodeImage(frozenset({X}), target_digest=D2, media_type="application/vnd.oci.image.manifest.v1+json")], D1, None, Status.FAIL, [f"expected {D1}", D2]),
        ([NodeImage(frozenset({X}), target_digest=D2, media_type="application/vnd.oci.image.index.v1+json")], D1, None, Status.ERROR, ["may be an index"]),
        ([NodeImage(frozenset({X}), target_digest=D2)], D1, RegistryFacts(children={D2: {"linux/amd64": C2}}), Status.FAIL, [f"expected {D1}"]),
    ],
)
def test_image_verdict_edges(images, pinned, facts, status, words):
    verdict = image_verdict(item("r.io/x:1", pinned, name="x"), images, runtime="rt", platform="linux/amd64", facts=facts)
    assert verdict.status is status, verdict.message
    for word in words:
        assert word in verdict.message


def test_image_verdict_bad_reference():
    verdict = image_verdict(item("r.io/X:1"), [], runtime="rt", platform="linux/amd64")
    assert verdict.status is Status.ERROR
    assert "lowercase" in verdict.message


# -- files -------------------------------------------------------------------------------

SUM = "sha256:" + "ab" * 32
SUM2 = "sha256:" + "cd" * 32
URL = "https://dl.k8s.io/release/v1.31.4/bin/linux/amd64/kubeadm"
DEST = "/tmp/releases/kubeadm-1.31.4-amd64"


def file_item(checksum=SUM, mode="0755", owner="root") -> FileItem:
    return FileItem(
        name="kubeadm", url=URL, dest=DEST, checksum=checksum, unarchive=False, owner=owner, mode=mode, groups=("k8s_cluster",)
    )


@pytest.mark.parametrize(
    "expected, observed, status, words",
    [
        (file_item(), ObservedFile(True, SUM, 100, "0755", "root"), Status.PASS, [f"checksum {SUM}", "mode 0755", "owner root"]),
        (file_item(checksum="AB" * 32), ObservedFile(True, SUM, 100, "755", "root"), Status.PASS, [SUM]),
        (file_item(checksum=None, mode=None, owner=""), ObservedFile(True), Status.PASS, ["no checksum pinned"]),
        (file_item(), ObservedFile(False), Status.FAIL, ["missing"]),
        (file_item(), ObservedFile(True, SUM2, 7, "0755", "root"), Status.FAIL, [f"checksum expected {SUM}, found {SUM2} (7 bytes)"]),
        (file_item(), ObservedFile(True, SUM, 100, "0644", "root"), Status.FAIL, ["mode expected 0755, found 0644"]),
        (file_item(), ObservedFile(True, SUM, 100, "0755", "kube"), Status.FAIL, ["owner expected root, found kube"]),
        (file_item(), ObservedFile(True, SUM2, 7, "0600", "kube"), Status.FAIL, ["checksum expected", "mode expected", "owner expected"]),
        (file_item(), ObservedFile(True, None, 100, "0755", "root"), Status.ERROR, ["not computed"]),
        (file_item(), ObservedFile(True, "sha512:" + "ab" * 64, 100, "0755", "root"), Status.ERROR, ["the node computed sha512:"]),
        (file_item(checksum="sha256:xyz"), ObservedFile(True, SUM, 100, "0755", "root"), Status.ERROR, ["'sha256:xyz'"]),
        (file_item(mode="u+x"), ObservedFile(True, SUM, 100, "0755", "root"), Status.ERROR, ["'u+x' is not an octal mode"]),
        (file_item(), ObservedFile(True, SUM, 100, None, None), Status.ERROR, ["mode expected 0755, not read", "owner expected root, not read"]),
        (file_item(), ObservedFile(True, SUM2, 100, None, "root"), Status.FAIL, ["checksum expected", "mode expected 0755, not read"]),
        (file_item(checksum="sha512:" + "AB" * 64), ObservedFile(True, "sha512:" + "ab" * 64, 1, "0755", "root"), Status.PASS, ["sha512:" + "ab" * 64]),
        # A checksum an earlier run read (the file unchanged since) says so, and how to read it again.
        (file_item(), ObservedFile(True, SUM, 100, "0755", "root", memo=True), Status.PASS, ["read by an earlier run"]),
        (file_item(), ObservedFile(True, SUM2, 7, "0755", "root", memo=True), Status.FAIL, [f"found {SUM2} (7 bytes) (read by an earlier run", "--rehash"]),
    ],
)
def test_file_verdict(expected, observed, status, words):
    verdict = file_verdict(expected, observed)
    assert verdict.status is status, verdict.message
    assert verdict.message.startswith(f"kubeadm {DEST} (from {URL}): ")
    for word in words:
        assert word in verdict.message


def test_a_file_verdict_never_shows_the_urls_credentials():
    item = FileItem(name="kubeadm", url="https://dl:s3cret@files.site/kubeadm", dest=DEST, checksum=SUM,
                    unarchive=False, owner="root", mode="0755", groups=("k8s_cluster",))
    verdict = file_verdict(item, ObservedFile(False))
    assert "s3cret" not in verdict.message and "https://***@files.site/kubeadm" in verdict.message
    assert "s3cret" not in repr(verdict.facts) and verdict.facts["url"] == "https://***@files.site/kubeadm"


# -- the facts the reports carry -------------------------------------------------------------


@pytest.mark.parametrize("observed, expected_facts, found_facts", [
    (ObservedFile(True, SUM2, 7, "644", "kube"), {"present": True, "checksum": SUM, "mode": "0755", "owner": "root"},
     {"present": True, "checksum": SUM2, "mode": "0644", "owner": "kube", "size": 7}),
    (ObservedFile(False), {"present": True, "checksum": SUM, "mode": "0755", "owner": "root"}, {"present": False}),
    (ObservedFile(True, None, 100, None, None), {"present": True, "checksum": SUM, "mode": "0755", "owner": "root"},
     {"present": True, "checksum": None, "mode": None, "owner": None, "size": 100}),
])
def test_a_file_verdict_carries_expected_and_found_side_by_side(observed, expected_facts, found_facts):
    verdict = file_verdict(file_item(checksum=SUM.upper().replace("SHA256", "sha256")), observed)
    assert verdict.facts == {"dest": DEST, "url": URL, "expected": expected_facts, "found": found_facts}


def test_an_image_verdict_carries_the_pinned_and_the_held_digests():
    """The tag moved to new content: the facts name both digests, and the runtime and platform judged on."""
    verdict = image_verdict(item(f"{R}/demo/retag:1.0", RETAG_V1.manifest.digest), listing("podman"),
                            runtime="podman", platform=PLATFORM, facts=FACTS)
    assert verdict.status is Status.FAIL
    facts = verdict.facts
    assert (facts["reference"], facts["runtime"], facts["platform"]) == (f"{R}/demo/retag:1.0", "podman", PLATFORM)
    assert facts["expected"]["digest"] == RETAG_V1.manifest.digest
    assert RETAGGED.manifest.digest in facts["found"]["digest"].split(", ")
    assert RETAG_V1.manifest.digest not in facts["found"]["digest"]


@pytest.mark.parametrize("ref, pinned, by", [
    (f"{R}/demo/single-oci:1.0", SINGLE_OCI.manifest.digest, "repo digest"),
    (f"{R}/demo/multi:1.0", child(MULTI, PLATFORM).manifest.digest, f"{PLATFORM} manifest of the index held"),
    (f"{R}/demo/single-docker:1.0", SINGLE_DOCKER.manifest.digest, "image ID is the pinned image's config digest"),
])
def test_a_passing_pin_says_by_what_evidence(ref, pinned, by):
    verdict = image_verdict(item(ref, pinned), listing("docker"), runtime="docker", platform=PLATFORM, facts=FACTS)
    assert verdict.status is Status.PASS, verdict.message
    assert verdict.facts["by"] == by and verdict.facts["expected"]["digest"] == pinned
