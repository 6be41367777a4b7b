"""Lint verdicts: one finding for the cluster, naming the nodes it concerns (pure)."""

import pytest

from kubespray_verify.model import ExpectedState, HostExpectation, ImageItem
from kubespray_verify.verdicts.lint import pin_matches_tag, pinned_images, pins_enforced
from kubespray_verify.verdicts.status import Status

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def image(name, digest=None, tag="v3.31.7"):
    return ImageItem(name, f"10.0.0.2:5000/calico/{name}", tag, digest, ("k8s_cluster",))


def state(hosts: dict, pulls_by_digest=False) -> ExpectedState:
    return ExpectedState("/srv/kubespray", "2.29.0", {h: HostExpectation(h, "amd64", "inventory", items)
                                                      for h, items in hosts.items()},
                         pulls_by_digest=pulls_by_digest)


def test_pins_under_a_kubespray_that_pulls_by_tag_are_one_finding_naming_every_node():
    cluster = state({"node1": [image("node", A), image("cni")], "node2": [image("cni")], "node3": [image("node", A)]})
    verdict = pins_enforced(cluster)
    assert verdict.status is Status.FAIL
    assert "pulls by tag" in verdict.message and "the pins on node1, node3 are enforced only by this suite" \
        in verdict.message
    assert verdict.facts["nodes"] == ["node1", "node3"]
    assert verdict.facts["pins"] == {"digest_pin:node": f"10.0.0.2:5000/calico/node:v3.31.7@{A}"}
    assert verdict.facts["kubespray"] == {"version": "2.29.0", "dir": "/srv/kubespray", "pulls_by_digest": False}


@pytest.mark.parametrize("hosts, pulls_by_digest, says", [
    ({"node1": [image("cni")]}, False, "no image digest is pinned"),
    ({"node1": [image("node", A)]}, True, "pulls pinned images by digest (1 pins on node1)"),
    ({"node1": [image("node", A)]}, None, "may pull pinned images by digest"),
])
def test_no_pin_or_a_kubespray_that_pulls_by_digest_passes(hosts, pulls_by_digest, says):
    verdict = pins_enforced(state(hosts, pulls_by_digest))
    assert verdict.status is Status.PASS and says in verdict.message


def test_each_distinct_pin_once_with_its_hosts_and_a_label_unique_in_the_run():
    cluster = state({"node1": [image("node", A), image("cni", B)], "node2": [image("node", B)],
                     "node3": [image("node", A)]})
    pins = pinned_images(cluster)
    assert [(p.label, p.nodes) for p in pins] == [
        ("digest_pin:node@" + "a" * 12, ("node1", "node3")), ("digest_pin:cni", ("node1",)),
        ("digest_pin:node@" + "b" * 12, ("node2",))]
    assert pins[0].id == "node::10.0.0.2:5000/calico/node:v3.31.7"


def test_a_pin_the_tag_disagrees_with_fails_with_both_digests():
    (pin,) = pinned_images(state({"node1": [image("node", A)], "node2": [image("node", A)]}))
    verdict = pin_matches_tag(pin, False, "registry r serves sha256:bbb… for calico/node:v3.31.7", B)
    assert verdict.status is Status.FAIL and "the pin and the tag disagree (pinned on node1, node2)" in verdict.message
    assert verdict.facts == {"reference": "10.0.0.2:5000/calico/node:v3.31.7", "nodes": ["node1", "node2"],
                             "expected": {"digest": A}, "found": {"digest": B}}
    assert pin_matches_tag(pin, True, "registry r serves it", A).status is Status.PASS
