"""Lint on the lab: a pin the registry's tag disagrees with fails; a pin of the tag's digest, or of a platform
manifest inside the tag's index, passes; pins under Kubespray's `checksum:` schema are flagged as unenforced."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


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
    (tmp_path / "pins.yml").write_text(yaml.safe_dump(pins))
    report = tmp_path / "report.xml"
    env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "-m", "pytest", f"--inventory={lab.inventory_dir / 'hosts.yml'}",
                    f"--kubespray-dir={lab.kubespray_dir}", f"--extra-vars=@{tmp_path / 'pins.yml'}", "-m", "lint",
                    f"--junitxml={report}", "-p", "no:cacheprovider", "-q"],
                   cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    cases = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.find("failure")
        cases[case.get("name")] = ("failure", failed.get("message", "")) if failed is not None else (
            "error" if case.find("error") is not None else "passed", "")

    def pin_case(name):
        (key,) = [k for k in cases if k.startswith(f"test_pinned_digest_is_the_tags_in_the_registry[{name}::")]
        return cases[key]

    assert pin_case(platform_pinned)[0] == "passed"
    assert pin_case(whole)[0] == "passed"
    outcome, message = pin_case(wrong)
    assert outcome == "failure" and "disagree" in message and record(lab, wrong)[1].digest in message
    # Kubespray master spells digests `checksum:`: every host with a pin is told the pin is not enforced.
    unenforced = {k: v for k, v in cases.items() if k.startswith("test_pinned_digests_are_enforced_by_kubespray[")}
    assert unenforced and all(outcome == "failure" for outcome, _ in unenforced.values())
