#!/usr/bin/env bash
# The local lab demo: an air-gapped Kubespray site on this machine, some drift, and the suite's verdicts.
#
#   ./demo.sh            (as root, on Debian 12; installs what it needs)
#
# Leaves the lab up so you can look around; the last lines say how to take it down.
set -euo pipefail
cd "$(dirname "$0")"

prefix="${KV_DEMO_PREFIX:-kvdemo}"
export KUBESPRAY_DIR="${KUBESPRAY_DIR:-$(cd .. && pwd)/shared/kubespray/master}"
if [ ! -d "$KUBESPRAY_DIR/roles" ]; then
  echo "demo: no Kubespray tree at $KUBESPRAY_DIR: set KUBESPRAY_DIR to a Kubespray checkout" >&2
  exit 2
fi

say() { printf '\n== %s\n' "$*"; }
# The command, whether or not pip's script directory is on PATH.
kubespray-verify() { python3 -m kubespray_verify "$@"; }

say "installing kubespray-verify and the lab's packages"
python3 -m pip install -q --disable-pip-version-check -c .ci/constraints.txt -e .
kubespray-verify lab deps

say "bringing up the lab (prefix $prefix): mirrors, registries, three nodes (containerd, docker, cri-o)"
kubespray-verify lab up --prefix "$prefix" --pin-digests
inventory="/var/lib/kubespray-verify/lab-$prefix/inventory/hosts.yml"

say "what each node is expected to hold (kubespray-verify expected)"
kubespray-verify expected --inventory "$inventory" --format table | head -30
echo "   ..."

say "applying drift"
kubespray-verify lab drift --prefix "$prefix" node1 image-missing calico_cni
kubespray-verify lab drift --prefix "$prefix" node2 file-corrupted kubeadm
kubespray-verify lab drift --prefix "$prefix" node2 file-wrong-mode crictl
kubespray-verify lab drift --prefix "$prefix" node3 image-mirror-name coredns
kubespray-verify lab drift --prefix "$prefix" node3 image-from-tarball calico_node

say "running the suite: red where drift was applied"
mkdir -p reports/out
set +e
kubespray-verify check --inventory "$inventory" -q --tb=line --junitxml=reports/out/demo.xml
rc=$?
set -e
if [ "$rc" -gt 1 ]; then
  echo "demo: the suite did not run to the end (exit $rc)" >&2
  exit "$rc"
fi

cat <<NOTE

== the lab is still up
  look around:   kubespray-verify lab status --prefix $prefix
                 ssh -i /var/lib/kubespray-verify/lab-$prefix/ssh/id_ed25519 root@<node ip from lab status>
  JUnit report:  reports/out/demo.xml
  heal, re-run:  kubespray-verify lab heal --prefix $prefix && kubespray-verify check --inventory $inventory -q
  take it down:  kubespray-verify lab down --prefix $prefix
NOTE
