"""--fix against Kubespray's own download role, side by side on the same lab and the same drift.

    python3 bench/bench_fix.py [--nodes 3] [--runs 1] [--realistic-sizes] [--out results.json]

One lab of docker nodes (prefix "kvbfix"; docker, because Kubespray's download role pulls there with
the `docker` CLI, the one of its tools this machine has: nerdctl, crictl and skopeo are not packaged
here). Before each contender the same drift is applied (images missing and files missing on every
node), and after it the suite checks the nodes (untimed): a contender that did not heal them all is
reported as such. Contenders:

- `--fix` in the default mode (each node pulls and downloads its own);
- `--fix` with `download_run_once` (node1 pulls once, pushes to the others);
- Kubespray's download role, the real role from a Kubespray tree (`--kubespray-role-dir`, default the
  shared master-full tree), run by ansible-playbook with `--tags download`, in the default mode;
- the same with `download_run_once`: its synchronize steps need rsync and the ansible.posix collection
  (in the `ansible` package Kubespray's requirements.txt pins; ANSIBLE_COLLECTIONS_PATH may point at a
  copy); when they are not at hand, that row says so instead of a figure.

Kubespray learns its kubeadm images by running `kubeadm config images list`, which the lab's stand-in
kubeadm cannot answer, so the role runs with `skip_kubeadm_images: true` and the drift leaves kubeadm's
images alone. For each run: wall time, the blob requests the lab registry answered and the bytes it sent
(its access log, between the run's start and end). The fastest of --runs runs counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kubespray_fixtures import kubespray_dir  # noqa: E402

PREFIX = "kvbfix"
IMAGES = ("calico_node", "calico_cni", "calico_policy", "coredns", "pod_infra", "nodelocaldns")
FILES = ("kubeadm", "kubelet", "cni", "crictl", "calicoctl")
DEFAULT_ROLE_TREE = ROOT.parent / "shared" / "kubespray" / "master-full"
PLAYBOOK = """\
- name: Kubespray's download role, as cluster.yml runs it
  hosts: k8s_cluster
  gather_facts: true
  roles:
    - role: kubespray_defaults
    - role: download
      tags: download
"""
ACCESS = re.compile(r'^\S+ - - \[[^]]+\] "(GET|HEAD) /v2/\S+/(blobs|manifests)/\S+ HTTP/[0-9.]+" (\d+) (\d+)', re.M)


def registry_traffic(log: Path, offset: int) -> dict:
    text = log.read_bytes()[offset:].decode(errors="replace")
    blobs = sent = requests = 0
    for method, kind, status, size in ACCESS.findall(text):
        requests += 1
        sent += int(size) if method == "GET" else 0
        blobs += kind == "blobs" and method == "GET" and status == "200"
    return {"registry_requests": requests, "blob_requests": blobs, "bytes_sent": sent}


def drift(lab) -> None:
    for node in lab.nodes:
        for name in IMAGES + FILES:
            item = lab.expected.hosts[node.name].item(name)
            if item is not None:
                lab.drift(node.name, "image-missing" if item.kind == "image" else "file-missing", name)


def suite(lab, env, *args, check=False):
    cmd = [sys.executable, "-m", "pytest", f"--inventory={lab.inventory_dir / 'hosts.yml'}",
           f"--kubespray-dir={lab.kubespray_dir}", "-p", "no:cacheprovider", "-q", "-m", "images or files", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


def healed(lab, env) -> bool:
    proc = suite(lab, env, "--tb=line")
    return proc.returncode == 0


def ansible_command(lab, playbook: Path, extra: dict, role_tree: Path) -> list[str]:
    return [shutil.which("ansible-playbook") or "ansible-playbook", "-i", str(lab.inventory_dir / "hosts.yml"),
            str(playbook), "--tags", "download", "-f", str(max(5, len(lab.nodes))),
            "-e", json.dumps({"skip_kubeadm_images": True, **extra})]


def posix_collection() -> tuple[bool, str]:
    """Whether ansible.posix.synchronize (and rsync, which it runs) are at hand for Kubespray's run_once."""
    if shutil.which("rsync") is None:
        return False, "rsync is not installed (Kubespray's download_run_once copies with ansible.posix.synchronize)"
    proc = subprocess.run(["ansible-doc", "-t", "module", "ansible.posix.synchronize"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return False, ("the ansible.posix collection is not installed (Kubespray's download_run_once copies with "
                       "ansible.posix.synchronize; it comes with the `ansible` package Kubespray's requirements.txt "
                       "pins)")
    return True, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--realistic-sizes", action="store_true")
    parser.add_argument("--kubespray-role-dir", default=str(DEFAULT_ROLE_TREE),
                        help="a whole Kubespray tree (roles/download), default the shared master-full")
    parser.add_argument("--out")
    args = parser.parse_args()
    from kubespray_verify.lab.api import Lab

    role_tree = Path(args.kubespray_role_dir)
    if not (role_tree / "roles" / "download" / "tasks").is_dir():
        raise SystemExit(f"no Kubespray download role under {role_tree}: give --kubespray-role-dir")
    lab = Lab.up(PREFIX, nodes=args.nodes, runtimes=("docker",), kubespray_dir=str(kubespray_dir()),
                 realistic_sizes=args.realistic_sizes)
    results: dict = {"nodes": args.nodes, "runtimes": "docker", "images_drifted": list(IMAGES),
                     "files_drifted": list(FILES), "contenders": {}}
    work = Path(tempfile.mkdtemp(prefix="kubespray-verify-bench-fix-"))
    try:
        playbook = work / "download.yml"
        playbook.write_text(PLAYBOOK)
        env = dict(os.environ, KUBESPRAY_VERIFY_CACHE=str(work / "cache"), PYTHONPATH=str(ROOT))
        ansible_env = dict(env, ANSIBLE_ROLES_PATH=str(role_tree / "roles"), ANSIBLE_HOST_KEY_CHECKING="False",
                           ANSIBLE_PIPELINING="True", ANSIBLE_SSH_ARGS="-o ControlMaster=no",
                           ANSIBLE_FORKS=str(max(5, len(lab.nodes))))
        log = lab.layout.logs_dir / "registry.log"
        # Untimed: the expected state cached for every suite run below (as an operator's second run has it),
        # and the clean lab made right for download_run_once too: there the delegate also needs the items of
        # the other groups (nginx), which the lab deployed only where their groups are.
        settle = suite(lab, env, "--fix", f"--extra-vars=download_run_once=true download_cache_dir={work / 'fix-cache'}")
        if settle.returncode != 0:
            raise SystemExit(f"the clean lab does not pass:\n{settle.stdout[-3000:]}")
        run_once_ok, run_once_why = posix_collection()
        contenders = {
            "fix_default": lambda: suite(lab, env, "--fix"),
            "fix_run_once": lambda: suite(lab, env, "--fix", "--extra-vars=download_run_once=true "
                                          f"download_cache_dir={work / 'fix-cache'}"),
            "kubespray_default": lambda: subprocess.run(ansible_command(lab, playbook, {}, role_tree), cwd=work,
                                                        env=ansible_env, capture_output=True, text=True),
            "kubespray_run_once": lambda: subprocess.run(ansible_command(
                lab, playbook, {"download_run_once": True, "download_cache_dir": str(work / "ks-cache")}, role_tree),
                cwd=work, env=ansible_env, capture_output=True, text=True),
        }
        for name, run in contenders.items():
            if name == "kubespray_run_once" and not run_once_ok:
                results["contenders"][name] = {"not_run": run_once_why}
                continue
            best = None
            for _ in range(args.runs):
                lab.heal()
                shutil.rmtree(work / "fix-cache", ignore_errors=True)
                shutil.rmtree(work / "ks-cache", ignore_errors=True)
                drift(lab)
                offset = log.stat().st_size
                start = time.perf_counter()
                proc = run()
                elapsed = time.perf_counter() - start
                time.sleep(0.2)  # the registry's last log lines
                row = {"seconds": round(elapsed, 2), "exit": proc.returncode, **registry_traffic(log, offset),
                       "healed": healed(lab, env)}
                if proc.returncode != 0:
                    row["output"] = (proc.stdout[-1500:] + proc.stderr[-1500:]).strip()
                if best is None or row["seconds"] < best["seconds"]:
                    best = row
            results["contenders"][name] = best
            print(f"{name}: {json.dumps({k: v for k, v in best.items() if k != 'output'})}", flush=True)
        rows = results["contenders"]
        for fix, role in (("fix_default", "kubespray_default"), ("fix_run_once", "kubespray_run_once"),
                          ("fix_run_once", "kubespray_default")):
            if "seconds" not in rows.get(fix, {}) or "seconds" not in rows.get(role, {}):
                continue
            if not (rows[fix]["healed"] and rows[role]["healed"]):  # a run that failed early is no figure
                failed = [n for n in (role, fix) if not rows[n]["healed"]]
                results[f"{role}_over_{fix}"] = {"not_compared": f"{' and '.join(failed)} did not heal the nodes"}
            else:
                results[f"{role}_over_{fix}"] = {
                    "time": round(rows[role]["seconds"] / rows[fix]["seconds"], 1),
                    "registry_bytes": (round(rows[role]["bytes_sent"] / rows[fix]["bytes_sent"], 2)
                                       if rows[fix]["bytes_sent"] else None),
                }
        lab.heal()
    finally:
        lab.down()
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
