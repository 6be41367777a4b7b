"""Node checks side by side on the same lab nodes: the suite, a naive testinfra suite, ansible-playbook.

    python3 bench/bench_node_checks.py [--nodes 3,20] [--realistic-sizes] [--out results.json]

For each lab size (one lab at a time, prefix "kvbench"): the suite
(`pytest --inventory ... -m "images or files"`), a naive testinfra suite
(bench/naive: one remote command per check, `host.file().sha256sum`), and
`ansible-playbook` doing the same checks (bench/ansible_checks.yml: stat with
checksum per file, the image list once). All three must pass on the clean
lab. Then the hashing of one node's files: the probe's hashlib reader
against `openssl dgst -sha256` on the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kubespray_fixtures import kubespray_dir  # noqa: E402


def timed(cmd, env, cwd=ROOT):
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def hashing(lab, node: str) -> dict:
    from kubespray_verify import node_probe

    base = lab.layout.node_dir(node) / "fs"
    paths = [str(base / item.dest.lstrip("/")) for item in lab.expected.hosts[node].items if item.kind == "file"]
    size = sum(os.path.getsize(p) for p in paths)
    best = {"probe_hashlib_s": float("inf"), "openssl_s": float("inf"), "sha256sum_s": float("inf")}
    for _ in range(3):
        start = time.perf_counter()
        ours = [node_probe._hash(p, "sha256") for p in paths]
        best["probe_hashlib_s"] = min(best["probe_hashlib_s"], time.perf_counter() - start)
        start = time.perf_counter()
        out = subprocess.run(["openssl", "dgst", "-sha256", "-r", *paths], capture_output=True, text=True, check=True)
        best["openssl_s"] = min(best["openssl_s"], time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(["sha256sum", *paths], capture_output=True, check=True)
        best["sha256sum_s"] = min(best["sha256sum_s"], time.perf_counter() - start)
    theirs = ["sha256:" + line.split()[0] for line in out.stdout.splitlines()]
    assert ours == theirs, "hashlib and openssl disagree"
    result = {k: round(v, 3) for k, v in best.items()}
    result.update(files=len(paths), mbytes=round(size / 1e6, 1),
                  ratio_probe_vs_openssl=round(best["probe_hashlib_s"] / best["openssl_s"], 2))
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", default="3,20")
    parser.add_argument("--realistic-sizes", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    from kubespray_verify.lab import Lab

    rows = []
    for count in [int(n) for n in args.nodes.split(",")]:
        lab = Lab.up("kvbench", nodes=count, kubespray_dir=str(kubespray_dir()), realistic_sizes=args.realistic_sizes)
        tmp = Path(tempfile.mkdtemp(prefix="kv-bench-"))
        try:
            inventory = str(lab.inventory_dir / "hosts.yml")
            expected = tmp / "expected.json"
            expected.write_text(json.dumps(lab.expected.to_json()))
            env = dict(os.environ, KUBESPRAY_DIR=lab.kubespray_dir, KUBESPRAY_VERIFY_CACHE=str(tmp / "cache"),
                       KV_BENCH_EXPECTED=str(expected), KV_BENCH_INVENTORY=inventory,
                       ANSIBLE_HOST_KEY_CHECKING="False")
            checks = sum(len(h.items) for h in lab.expected.hosts.values())
            # Both pytest runs load only the plugins they use: pytest plugins this machine happens to have
            # (hypothesis costs ~2 s to import) would weigh on both and say nothing about either.
            bare = dict(env, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
            suite = timed([sys.executable, "-m", "pytest", "-p", "kubespray_verify_pytest", f"--inventory={inventory}",
                           "-m", "images or files", "-q", "-p", "no:cacheprovider"], bare)
            naive = timed([sys.executable, "-m", "pytest", str(ROOT / "bench" / "naive"), "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(ROOT / "bench" / "naive")], bare)
            playbook = shutil.which("ansible-playbook")
            ansible = timed([playbook, "-i", inventory, "-f", str(min(count, 20)),
                             str(ROOT / "bench" / "ansible_checks.yml")], env)
            row = {"nodes": count, "checks": checks, "realistic_sizes": args.realistic_sizes,
                   "suite_s": round(suite, 2), "naive_testinfra_s": round(naive, 2),
                   "ansible_playbook_s": round(ansible, 2),
                   "naive_over_suite": round(naive / suite, 1), "ansible_over_suite": round(ansible / suite, 1),
                   "hashing_node1": hashing(lab, "node1")}
            rows.append(row)
            print(json.dumps(row), flush=True)
        finally:
            lab.down()
            shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
