"""Lint on the lab: a pin the registry's tag disagrees with fails; a pin of the tag's digest, or of a platform
manifest inside the tag's index, passes; pins under Kubespray's `checksum:` schema are one finding for the
cluster, naming the nodes."""

from __future__ import annotations

import pytest

from tests.lab.suite_run import run_suite

pytestmark = pytest.mark.lab


def record(lab, name):
    item = lab.expected.hosts["node1"].item(name)
    return item, lab.images[item.repo[len(lab.registry.host) + 1:] + ":" + item.tag]


def test_pins_checked_against_the_registry(lab, tmp_path):
    indexed = [n for n in ("calico_node", "calico_cni", "pod_infra", "coredns", "nodelocaldns")
               if record(lab, n)[1].style in ("oci-index", "docker-list")]
    assert indexed, "the lab serves no multi-platform image among the candidates"
    platform_pinned = indexed[0]
    whole, wrong = [n for n in ("calico_node", "calico_cni", "pod_infra", "coredns") if n != platform_pinned][:2]
    pins = {
        f"{platform_pinned}_digest_checksum": record(lab, platform_pinned)[1].platform_digest,
        f"{whole}_digest_checksum": record(lab, whole)[1].digest.split(":", 1)[1],  # bare hex, as the docs write it
        f"{wrong}_digest_checksum": record(lab, whole)[1].digest,  # another image's digest
    }
    cases, _ = run_suite(lab, tmp_path, "-m", "lint", extra_vars=pins)

    def pin_case(name):
        (key,) = [k for k in cases if k.startswith(f"test_pinned_digest_is_the_tags_in_the_registry[{name}::")]
        return cases[key]

    assert pin_case(platform_pinned)[0] == "passed"
    assert pin_case(whole)[0] == "passed"
    outcome, message = pin_case(wrong)
    assert outcome == "failure" and "disagree" in message and record(lab, wrong)[1].digest in message
    # Kubespray master spells digests `checksum:`: one finding for the cluster names every host with a pin.
    assert not [k for k in cases if k.startswith("test_pinned_digests_are_enforced_by_kubespray[")]
    outcome, message = cases["test_pinned_digests_are_enforced_by_kubespray"]
    assert outcome == "failure" and f"the pins on {', '.join(lab.expected.hosts)} are enforced only" in message
