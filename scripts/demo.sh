#!/usr/bin/env bash
# Sets vxlankit up, then runs its main job on the built-in default: synthesize the seed's
# overlay ping (C1 10.0.0.3 on node1 pings C2 10.0.0.4 on node2, VNI 4096), show the ladder,
# decode what node2's underlay NIC saw, and replay it through a VTEP model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/vxlankit synth ping --vni 4096 -c 2 -w out/ping.pcapng --diagram -
echo
.venv/bin/vxlankit decode out/ping.pcapng
echo
.venv/bin/vxlankit replay captures/node2-eth0-vni4096.pcap
