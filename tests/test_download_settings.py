"""Kubespray's download settings read from the inventory as its download role reads them, for --fix."""

from __future__ import annotations

import pytest

from kubespray_verify.errors import VerifyError
from kubespray_verify.fix.plan import DownloadMode
from kubespray_verify.resolve.expected import resolve
from tests.kubespray_fixtures import THREE_NODES, kubespray_dir, with_k8s_cluster, write_inventory


def _resolve(tmp_path, group_vars=None, groups=None):
    inventory = write_inventory(tmp_path / "inventory", THREE_NODES["hosts"],
                                with_k8s_cluster(groups or THREE_NODES["groups"]), group_vars=group_vars)
    return resolve([str(inventory)], str(kubespray_dir()))


def test_kubespray_defaults(tmp_path):
    download = _resolve(tmp_path).download
    assert (download.run_once, download.host, download.localhost, download.force_cache, download.cache_dir,
            download.retries, download.validate_certs) == (False, None, False, False, "/tmp/kubespray_cache", 4, True)
    assert download.delegate_host == "node1"  # the first kube_control_plane host, even with run_once off


def test_inventory_settings(tmp_path):
    download = _resolve(tmp_path, {"all": {
        "download_run_once": True, "download_delegate": "node2", "download_force_cache": True,
        "download_cache_dir": "/var/cache/kubespray", "download_retries": 2, "download_validate_certs": False,
    }}).download
    mode = DownloadMode.of(download)
    assert (mode.run_once, mode.delegate, mode.force_cache, mode.cache_dir, mode.retries, mode.validate_certs) == \
        (True, "node2", True, "/var/cache/kubespray", 2, False)


def test_download_localhost_makes_the_runner_the_delegate(tmp_path):
    mode = DownloadMode.of(_resolve(tmp_path, {"all": {"download_run_once": True,
                                                         "download_localhost": True}}).download)
    assert (mode.run_once, mode.localhost, mode.delegate) == (True, True, "localhost")


def test_no_control_plane_needs_no_delegate_unless_one_is_used(tmp_path):
    groups = {"kube_node": ["node1", "node2", "node3"], "etcd": ["node1"], "kube_control_plane": []}
    assert _resolve(tmp_path / "a", groups=groups).download.delegate_host is None
    with pytest.raises(VerifyError, match="download_delegate"):
        _resolve(tmp_path / "b", {"all": {"download_force_cache": True}}, groups=groups)


def test_a_setting_that_is_not_a_number_is_named(tmp_path):
    with pytest.raises(VerifyError, match="download_retries"):
        _resolve(tmp_path, {"all": {"download_retries": "many"}})
