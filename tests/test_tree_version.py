"""A Kubespray checkout's version, read from its files: galaxy.yml, else the git tag at HEAD (real git repos)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubespray_verify.resolve.tree import _version_of


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "op", "GIT_AUTHOR_EMAIL": "op@example.invalid", "GIT_COMMITTER_NAME": "op",
           "GIT_COMMITTER_EMAIL": "op@example.invalid", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    repo = tmp_path / "kubespray"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    (repo / "cluster.yml").write_text("---\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    return repo


@pytest.mark.parametrize("how", ["annotated", "lightweight", "annotated-packed", "lightweight-packed"])
def test_the_tag_at_head_names_the_version(checkout, how):
    git(checkout, "tag", *(["-a", "-m", "release"] if how.startswith("annotated") else []), "v2.28.0")
    if how.endswith("packed"):
        git(checkout, "pack-refs", "--all")
    assert _version_of(checkout) == "v2.28.0"


def test_a_commit_after_the_tag_is_named_by_its_commit(checkout):
    git(checkout, "tag", "-a", "-m", "release", "v2.28.0")
    (checkout / "cluster.yml").write_text("--- # changed\n")
    git(checkout, "commit", "-q", "-am", "two")
    assert _version_of(checkout) == "git " + git(checkout, "rev-parse", "HEAD")[:12]


def test_a_worktree_reads_its_own_head(checkout, tmp_path):
    git(checkout, "tag", "v2.27.0")
    (checkout / "cluster.yml").write_text("--- # later\n")
    git(checkout, "commit", "-q", "-am", "two")
    git(checkout, "worktree", "add", "-q", str(tmp_path / "wt"), "v2.27.0")
    assert _version_of(tmp_path / "wt") == "v2.27.0"


def test_galaxy_yml_wins_and_no_git_is_unknown(tmp_path):
    (tmp_path / "galaxy.yml").write_text("namespace: kubernetes_sigs\nname: kubespray\nversion: 2.30.0\n")
    assert _version_of(tmp_path) == "v2.30.0"
    assert _version_of(tmp_path / "nothing") == "unknown"
