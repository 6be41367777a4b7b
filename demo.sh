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
# The suite, as operators run it: pytest --inventory hosts.yml.
suite() { python3 -m pytest --inventory "$inventory" -p no:cacheprovider "$@"; }

say "installing kubespray-verify and the lab's packages"
python3 -m pip install -q --disable-pip-version-check -e .   # as the README's Install says
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
suite -q --report-junit=reports/out/demo.xml --report-json=reports/out/demo.json
rc=$?
set -e
if [ "$rc" -gt 1 ]; then
  echo "demo: the suite did not run to the end (exit $rc)" >&2
  exit "$rc"
fi

say "what --fix would do, node by node and command by command (nothing is changed)"
{ suite -q --tb=no -m "images or files" --fix-plan || true; } \
  | sed -n '/kubespray-verify --fix-plan:/,/short test summary/p' | grep -v 'short test summary'

say "--fix: pull, push and download what is missing, as Kubespray's download role would; then check again"
suite -q -m "images or files" --fix --report-junit=reports/out/demo-fix.xml --report-json=reports/out/demo-fix.json
echo "   (each fixed check says what was done: facts.fix in reports/out/demo-fix.json, fix: in its JUnit system-out)"

say "--fix again: nothing left to do"
suite -q -m "images or files" --fix | tail -4

cat <<NOTE

== the lab is still up
  look around:   kubespray-verify lab status --prefix $prefix
                 ssh -i /var/lib/kubespray-verify/lab-$prefix/ssh/id_ed25519 root@<node ip from lab status>
  reports:       reports/out/demo.xml and .json (before), reports/out/demo-fix.xml and .json (with --fix)
  pull once, push many: kubespray-verify lab drift --prefix $prefix node2 image-missing calico_node
                 python3 -m pytest --inventory $inventory -q -m images --fix --extra-vars download_run_once=true
  take it down:  kubespray-verify lab down --prefix $prefix
NOTE
