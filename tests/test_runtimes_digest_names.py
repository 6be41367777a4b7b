"""An image podman holds only by digest (pulled as repo@digest, then its tag removed) has no name."""

from __future__ import annotations

import json

from kubespray_verify.refs import parse_reference
from kubespray_verify.runtimes.parsers import parse_podman_images

DIGEST = "sha256:" + "37" * 32
CHILD = "sha256:" + "8c" * 32


def test_a_digest_in_names_is_a_repo_digest_not_a_name():
    listing = json.dumps([{
        "Id": "de" * 32, "Names": [f"10.200.0.2:5000/calico/cni@{DIGEST}"],
        "RepoDigests": [f"10.200.0.2:5000/calico/cni@{DIGEST}", f"10.200.0.2:5000/calico/cni@{CHILD}"],
    }])
    (image,) = parse_podman_images(listing)
    assert image.names == frozenset()
    assert image.digests == {DIGEST, CHILD}
    assert parse_reference(f"10.200.0.2:5000/calico/cni@{DIGEST}") in image.repo_digests
