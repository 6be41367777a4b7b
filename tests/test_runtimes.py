"""Runtime output parsers, on output captured from real runtimes (tests/data/runtimes/).

The containerd, docker, podman and containers-storage listings were recorded
by `capture_runtimes.py` (see `capture.json` for the registry, the versions
and every command run); their facts come from the same script. So was
`crictl/containerd-cri.json`: containerd's CRI answer to ListImages, kept as
received (`containerd-cri.ListImagesResponse.pb`) and rendered as
`crictl images -o json` prints it. The other crictl listings are real crictl
outputs kept verbatim from public projects (see each file's header): they pin
crictl's formatting, which the rendering must reproduce.
"""

import json
from pathlib import Path

import pytest

from tests.capture_runtimes import CRI_IMAGES, CRI_RESPONSE, CRI_RETAGGED, IMAGES, LISTINGS, child, facts
from tests.cri import decode_list_images_response, images_from_crictl_json, render_crictl_json
from kubespray_verify.refs import parse_reference
from kubespray_verify.runtimes.parsers import (
    NodeImage,
    parse_crictl_images,
    parse_ctr_images,
    parse_docker_inspect,
    parse_podman_images,
    parse_storage_images,
)

DATA = Path(__file__).parent / "data" / "runtimes"
META = json.loads((DATA / "capture.json").read_text())

PARSERS = {
    "containerd": parse_ctr_images,
    "docker": parse_docker_inspect,
    "podman": parse_podman_images,
    "storage": parse_storage_images,
    "crictl": parse_crictl_images,
}


def listing(runtime: str) -> list[NodeImage]:
    return PARSERS[runtime]((DATA / LISTINGS[runtime]).read_text())


def crictl_sample(name: str) -> str:
    """A crictl sample without its provenance header."""
    lines = (DATA / "crictl" / name).read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("#"))


@pytest.mark.parametrize("fact", facts(META["registry"], META["platform"]), ids=lambda f: f.id)
def test_captured_listing_shows(fact):
    fact.check(listing(fact.runtime))


@pytest.mark.parametrize("runtime", sorted(PARSERS))
def test_every_named_image_has_an_id(runtime):
    images = listing(runtime)
    assert images
    assert all(i.image_id and i.image_id.startswith("sha256:") for i in images if i.names)


# -- containerd: rows and groups ----------------------------------------------

R = META["registry"]


def test_ctr_groups_rows_by_target():
    images = parse_ctr_images((DATA / LISTINGS["containerd"]).read_text())
    # 24 rows: 9 names, 4 `name@sha256:` rows of CRI pulls, 11 CRI image-ID rows;
    # 8 named targets, 3 left without a name (pause:3.1 removed, two tags moved on).
    assert len(images) == 11
    assert sum(1 for i in images if not i.names) == 3
    pause = next(i for i in images if parse_reference(f"{R}/pause:3.10") in i.names)
    assert pause.names == {parse_reference(f"{R}/pause:3.10"), parse_reference("registry.k8s.io/pause:3.10")}


def test_ctr_stale_id_row_is_not_a_name():
    """The CRI row of the removed pause:3.1 still points at its manifest: it must stay nameless."""
    images = parse_ctr_images((DATA / LISTINGS["containerd"]).read_text())
    nameless = [i for i in images if not i.names]
    assert len(nameless) == 3  # pause:3.1 removed, retag:1.0 and cri-retag:1.0 moved on
    assert all(parse_reference(f"{R}/pause:3.1") not in i.names for i in images)


def test_ctr_shows_cri_pulls_by_digest():
    """A CRI pull names the target twice: by tag and by digest; `ctr images pull` only by tag."""
    images = parse_ctr_images((DATA / LISTINGS["containerd"]).read_text())
    by_digest = {str(d) for i in images for d in i.repo_digests}
    assert by_digest == {str(parse_reference(d)) for d in cri_repo_digests()}


A = "a" * 64
B = "b" * 64
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def ctr_table(*rows: tuple[str, ...]) -> str:
    """A table laid out as `ctr images ls` lays it out: columns padded to their widest cell."""
    table = [("REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"), *rows]
    widths = [max(len(r[c]) for r in table) + 1 for c in range(6)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(r, widths)) + "\n" for r in table)


@pytest.mark.parametrize(
    "rows, expected",
    [
        # A CRI pull adds a `name@sha256:` row: a repo digest, not a name.
        (
            [
                ("r.io/x:1", MANIFEST, f"sha256:{A}", "1.0 KiB", "linux/amd64", "-"),
                (f"r.io/x@sha256:{A}", MANIFEST, f"sha256:{A}", "1.0 KiB", "linux/amd64", "-"),
                (f"sha256:{B}", MANIFEST, f"sha256:{A}", "1.0 KiB", "linux/amd64", "io.cri-containerd.image=managed"),
            ],
            [({"r.io/x:1"}, {f"r.io/x@sha256:{A}"}, f"sha256:{B}")],
        ),
        # An image named only by digest has no tag to match.
        (
            [(f"r.io/x@sha256:{A}", MANIFEST, f"sha256:{A}", "1.0 KiB", "linux/amd64", "-")],
            [(set(), {f"r.io/x@sha256:{A}"}, None)],
        ),
        # ctr without the CRI plugin: no ID rows, so no image ID.
        (
            [("docker.io/library/pause:3.10", MANIFEST, f"sha256:{A}", "300.0 KiB", "linux/amd64", "a=b c")],
            [({"pause:3.10"}, set(), None)],
        ),
        # Two ID rows for one target: neither can be trusted as the image ID.
        (
            [
                ("r.io/x:1", MANIFEST, f"sha256:{B}", "1 B", "-", "-"),
                (f"sha256:{A}", MANIFEST, f"sha256:{B}", "1 B", "-", "-"),
                (f"sha256:{B}", MANIFEST, f"sha256:{B}", "1 B", "-", "-"),
            ],
            [({"r.io/x:1"}, set(), None)],
        ),
        ([], []),
    ],
)
def test_ctr_table(rows, expected):
    got = [
        ({str(n) for n in i.names}, {str(d) for d in i.repo_digests}, i.image_id)
        for i in parse_ctr_images(ctr_table(*rows))
    ]
    want = [
        ({str(parse_reference(n)) for n in names}, {str(parse_reference(d)) for d in digests}, image_id)
        for names, digests, image_id in expected
    ]
    assert got == want


@pytest.mark.parametrize(
    "text, message",
    [
        ("NAME TAG\nx 1\n", "not `ctr images ls` output"),
        (ctr_table(("x:1", MANIFEST, "sha256:abc", "1 B", "-", "-")), "64 hexadecimal"),
        (ctr_table(("Bad:1", MANIFEST, f"sha256:{A}", "1 B", "-", "-")), "lowercase"),
    ],
)
def test_ctr_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_ctr_images(text)


def test_ctr_empty_output():
    assert parse_ctr_images("") == []


# -- docker ----------------------------------------------------------------------


def test_docker_repeated_ids_are_one_image():
    """`docker image inspect $(docker images -q)` repeats an image once per tag."""
    entries = json.loads((DATA / LISTINGS["docker"]).read_text())
    doubled = json.dumps(entries + entries)
    assert sorted(map(NodeImage.describe, parse_docker_inspect(doubled))) == sorted(map(NodeImage.describe, listing("docker")))


@pytest.mark.parametrize(
    "entry, names, digests, image_id",
    [
        ({"Id": "sha256:" + A, "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"]}, set(), set(), "sha256:" + A),
        ({"Id": "sha256:" + A, "RepoTags": None, "RepoDigests": None}, set(), set(), "sha256:" + A),
        ({"Id": "sha256:" + A, "RepoTags": ["pause:3.10"], "RepoDigests": []}, {"pause:3.10"}, set(), "sha256:" + A),
    ],
)
def test_docker_entries(entry, names, digests, image_id):
    (image,) = parse_docker_inspect(json.dumps([entry]))
    assert {str(n) for n in image.names} == {str(parse_reference(n)) for n in names}
    assert image.digests == digests
    assert image.image_id == image_id


@pytest.mark.parametrize(
    "text, message",
    [("{", "not JSON"), ('{"Id": 1}', "JSON list of objects"), ('[{"Id": "sha256:12"}]', "Id")],
)
def test_docker_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_docker_inspect(text)


# -- crictl: containerd's CRI, captured ------------------------------------------------


def cri_repo_digests() -> set[str]:
    """Every `name@digest` the CRI pulls leave: by the manifest, or by the index; the old one of a moved tag too."""
    out = set()
    for name, pushed in [*CRI_IMAGES.items(), ("demo/cri-retag:1.0", CRI_RETAGGED)]:
        digest = pushed.digest
        out.add(f"{R}/{name.rsplit(':', 1)[0]}@{digest}")
    return out


def test_crictl_capture_is_the_response_rendered():
    """The JSON is the recorded ListImagesResponse, rendered as crictl renders it, byte for byte."""
    response = (DATA / CRI_RESPONSE).read_bytes()
    assert render_crictl_json(decode_list_images_response(response)) == (DATA / LISTINGS["crictl"]).read_text()


@pytest.mark.parametrize(
    "sample, image_fields",
    [("iks-core-dump-handler.txt", 6), ("kind-anykap.txt", 8)],
)
def test_crictl_rendering_reproduces_real_crictl(sample, image_fields):
    """The rendering, on the messages behind each public sample, prints the sample again byte for byte.

    The IBM Cloud sample's crictl knew Image fields 1-6 (no spec, no pinned);
    the kind sample's knew 1-8. Both print images in crictl's sort order.
    """
    text = crictl_sample(sample).lstrip("\n")
    assert render_crictl_json(images_from_crictl_json(text), image_fields=image_fields) == text


def test_crictl_capture_repo_digests_come_from_cri_pulls_only():
    """Images pulled, tagged or imported with ctr show no repo digest through the CRI; CRI pulls show theirs."""
    images = listing("crictl")
    assert {str(d) for i in images for d in i.repo_digests} == {str(parse_reference(d)) for d in cri_repo_digests()}
    for name in IMAGES:
        if name != "pause:3.1":
            (image,) = [i for i in images if parse_reference(f"{R}/{name}") in i.names]
            assert image.repo_digests == frozenset()


def test_crictl_capture_index_is_known_by_index_digest_and_node_config():
    """An index pulled by tag: the repo digest is the index's, the image ID the node platform's config."""
    multi = CRI_IMAGES["demo/cri-multi:1.0"]
    (image,) = [i for i in listing("crictl") if parse_reference(f"{R}/demo/cri-multi:1.0") in i.names]
    node = child(multi, META["platform"])
    assert image.repo_digests == {parse_reference(f"{R}/demo/cri-multi@{multi.digest}")}
    assert image.image_id == node.config.digest
    assert node.manifest.digest not in image.digests


def test_crictl_capture_moved_tag_keeps_its_digest_without_a_name():
    """As in the IBM Cloud sample: the image a tag left keeps its repo digest, and no name."""
    old = CRI_IMAGES["demo/cri-retag:1.0"]
    (image,) = [i for i in listing("crictl") if i.image_id == old.config.digest]
    assert image.names == frozenset()
    assert image.repo_digests == {parse_reference(f"{R}/demo/cri-retag@{old.manifest.digest}")}
    (current,) = [i for i in listing("crictl") if parse_reference(f"{R}/demo/cri-retag:1.0") in i.names]
    assert current.image_id == CRI_RETAGGED.config.digest


def test_crictl_and_ctr_agree():
    """Two views of one containerd: CRI images and ctr's targets have the same names, repo digests and IDs."""

    def view(images):
        return sorted((sorted(map(str, i.names)), sorted(map(str, i.repo_digests)), i.image_id) for i in images)

    assert view(listing("crictl")) == view(listing("containerd"))


def test_crictl_current_layout_reads_the_same():
    """Current crictl (protojson) leaves unset uid/spec out and prints `[]`: the same images."""
    response = decode_list_images_response((DATA / CRI_RESPONSE).read_bytes())
    current = render_crictl_json(response, style="protojson")
    assert '"uid"' not in current and '"repoDigests": []' in current
    assert sorted(map(NodeImage.describe, parse_crictl_images(current))) == sorted(map(NodeImage.describe, listing("crictl")))


# -- crictl (real samples) ---------------------------------------------------------


def test_crictl_iks_sample():
    images = parse_crictl_images(crictl_sample("iks-core-dump-handler.txt"))
    assert len(images) == 32
    pause = next(i for i in images if parse_reference("registry.eu-de.bluemix.net/armada-master/pause:3.2") in i.names)
    assert pause.image_id == "sha256:80d28bedfe5dec59da9ebf8e6260224ac9008ab5c11dbbe16ee3ba3e4439ac2c"
    assert pause.digests == {"sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108"}
    alpine = next(i for i in images if parse_reference("alpine:3.10") in i.names)
    assert alpine.digests == {"sha256:451eee8bedcb2f029756dc3e9d73bab0e7943c1ac55cff3a4861c52a0fdd3e98"}


def test_crictl_iks_sample_untagged_image():
    """An image whose tag moved on keeps its repo digest but no name."""
    images = parse_crictl_images(crictl_sample("iks-core-dump-handler.txt"))
    (untagged,) = [i for i in images if not i.names]
    assert untagged.image_id == "sha256:4ced78f12570461f38f90d7b095da91259fe2b6d1ea9eb8a68c9f22e33808b14"
    assert untagged.repo_digests == {
        parse_reference(
            "registry.eu-de.bluemix.net/armada-master/alpine@sha256:7cabdf4563795f652c71497a0399c68edfda2a0627333fe984faa0c68c5188c6"
        )
    }


def test_crictl_kind_sample_has_no_repo_digests():
    """Images loaded into a node (not pulled) have no repo digest: only the image ID."""
    images = parse_crictl_images(crictl_sample("kind-anykap.txt"))
    assert [(sorted(map(str, i.names)), i.digests, i.image_id) for i in images] == [
        (
            ["docker.io/kindest/kindnetd:v20230511-dc714da8"],
            frozenset(),
            "sha256:b0b1fa0f58c6e932b7f20bf208b2841317a1e8c88cc51b18358310bbd8ec95da",
        ),
        (
            ["docker.io/kindest/local-path-helper:v20230510-486859a6"],
            frozenset(),
            "sha256:be300acfc86223548b4949398f964389b7309dfcfdcfc89125286359abb86956",
        ),
    ]


@pytest.mark.parametrize(
    "text, message",
    [("[]", "no 'images' list"), ("nope", "not JSON"), ('{"images": [{"id": "xyz"}]}', "id")],
)
def test_crictl_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_crictl_images(text)


def test_crictl_bare_hex_id():
    """cri-o prints image IDs without the `sha256:` prefix."""
    (image,) = parse_crictl_images(json.dumps({"images": [{"id": A, "repoTags": [], "repoDigests": []}]}))
    assert image.image_id == "sha256:" + A


# -- containers-storage ---------------------------------------------------------------


def test_podman_and_store_agree():
    """podman reads the same store: names, digests and IDs must match."""
    assert sorted(map(NodeImage.describe, listing("podman"))) == sorted(map(NodeImage.describe, listing("storage")))


def test_store_names_by_digest_are_repo_digests():
    entry = {"id": A, "digest": "sha256:" + B, "names": [f"r.io/x@sha256:{B}"], "big-data-names": [f"manifest-sha256:{B}"]}
    (image,) = parse_storage_images(json.dumps([entry]))
    assert image.names == frozenset()
    assert image.repo_digests == {parse_reference(f"r.io/x@sha256:{B}")}

