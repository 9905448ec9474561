#!/usr/bin/env bash
# Sets vxlankit up (with what every command of the README's list needs), then tells the seed's
# story on one capture it makes: C1 10.0.0.3 on node1 pings C2 10.0.0.4 on node2 over VXLAN
# VNI 4096.  The ladder, the one-line decode, the statistics and the VTEP replay are all of
# that capture.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
echo "setting up .venv (log: out/setup.log) ..."
bash scripts/setup.sh demo >out/setup.log 2>&1 || { cat out/setup.log; exit 1; }
vk=.venv/bin/vxlankit
capture=out/ping.pcapng
say() { printf '\n== %s\n' "$*"; }

say "vxlankit synth ping --vni 4096 -c 2 -w $capture --diagram -   (who hands what to whom)"
$vk synth ping --vni 4096 -c 2 -w "$capture" --diagram -
say "vxlankit decode $capture   (every tap: C1's veth, both underlays, C2's veth)"
$vk decode "$capture"
say "vxlankit stats $capture"
$vk stats "$capture"
say "vxlankit replay $capture   (what each VTEP learned)"
$vk replay "$capture"
say "next: source .venv/bin/activate, then any command of the README's list on $capture"
