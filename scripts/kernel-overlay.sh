#!/usr/bin/env bash
# The seed's Docker overlay on the Linux kernel, with plain iproute2 commands (no vxlankit).
#
#   scripts/kernel-overlay.sh up   MODE [FAULT]    build it (MODE: learning | docker; FAULT below)
#   scripts/kernel-overlay.sh down                 remove every namespace "up" made
#   scripts/kernel-overlay.sh names                print the namespaces' names, one a line
#
# Environment: VXK_PREFIX (default "vxksh-") starts every namespace name, so that two builds
# (or a build and `vxlankit lab`, which uses "vxk-<pid>-") never meet.  "down" deletes exactly
# the seven names below, and only those that exist: it touches nothing it did not make.
#
# Namespaces (PREFIX + name) and what is in them:
#   router   eth1 172.31.1.1/24 (to node1), eth2 192.168.1.1/24 (to node2), forwarding on
#   node1    eth0 172.31.1.10/24, default via 172.31.1.1; the vxlan device's UDP socket lives
#            here (vxlan0 is created here and moved into sbox1, as libnetwork does)
#   node2    eth0 192.168.1.10/24, default via 192.168.1.1
#   sbox1    br0 10.0.0.1/24, vxlan0 (VNI 4096, dstport 4789, MTU 1450), veth-c1 (bridge port)
#   sbox2    the same for node2, veth-c2
#   c1       eth0 10.0.0.3/24, MAC 02:42:0a:00:00:03 (Docker's MAC for the address)
#   c2       eth0 10.0.0.4/24, MAC 02:42:0a:00:00:04
# IPv6 is off in every namespace, so that nothing but the test's traffic is on the wire.
# The other MACs are the kernel's random ones.
#
# MODE learning: vxlan0 plain (learning), one all-zeros FDB entry to the other VTEP: ARP
#   crosses the tunnel and both VTEPs learn from what arrives (RFC 7348 flood and learn).
# MODE docker: vxlan0 with "learning proxy l2miss l3miss" and, for the remote container, a
#   permanent neighbour entry and a permanent FDB entry, as Docker's gossip programs them.
#
# FAULT (optional; the names of `synth ping --fault` and `vxlankit lab ping --fault`):
#   vni        node2's vxlan0 has VNI 4097: node1's packets are dropped at node2
#   port       node2's vxlan0 uses UDP 8472 (Linux's default port; 4790 would be VXLAN-GPE's),
#              node1's 4789: node1's packets find no socket
#   remote     node2 sends to C1's MAC at 172.31.1.99 (docker mode: its static entry;
#              learning mode: an extra static entry), a host nobody is: replies are lost
#   mtu        the router's route into node2's subnet has MTU 1400, both vxlan0 "df set":
#              large frames (ping -s 1400) get ICMP fragmentation needed, then the VTEP's own
#   fragment   the same route, vxlan0 "df unset" (the default): the router fragments
#   ttl        both vxlan0 "ttl 1": the router answers ICMP time exceeded
#   neigh      docker mode: node1's vxlan0 lacks C2's neighbour entry (ARP goes unanswered)
#   fdb        docker mode: node1's vxlan0 lacks C2's FDB entry (the echo is dropped there)
#   links-mtu  every underlay link at MTU 1400 under the overlay's 1450 (no df): node1's own
#              VTEP refuses full-size frames (ping -s 1422)
# Older names, still accepted: vni-mismatch (vni), port-mismatch (port, but on UDP 4790),
# wrong-fdb (remote); the old "mtu" (every link at 1400) is now links-mtu.
#
# Try it (as root):
#   scripts/kernel-overlay.sh up learning
#   ip netns exec vxksh-c1 ping -c 2 10.0.0.4
#   ip netns exec vxksh-sbox1 bridge fdb show dev vxlan0
#   scripts/kernel-overlay.sh down
set -euo pipefail

P=${VXK_PREFIX:-vxksh-}
NAMES=(router node1 node2 sbox1 sbox2 c1 c2)

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need() {
    command -v "$1" >/dev/null || { echo "kernel-overlay: $1 is missing (Debian package $2)" >&2; exit 1; }
}

down() {
    local n
    for n in "${NAMES[@]}"; do
        if [ -e "/run/netns/$P$n" ]; then
            ip netns del "$P$n"
        fi
    done
}

up() {
    local mode=${1:-} fault=${2:-} node2_port=8472
    case "$mode" in learning|docker) ;; *) usage ;; esac
    case "$fault" in
        vni-mismatch) fault=vni ;;
        port-mismatch) fault=port node2_port=4790 ;;
        wrong-fdb) fault=remote ;;
    esac
    case "$fault" in ''|vni|port|remote|mtu|fragment|ttl|links-mtu) ;;
        neigh|fdb) [ "$mode" = docker ] || { echo "kernel-overlay: $fault needs docker mode" >&2; exit 2; } ;;
        *) usage ;; esac
    if [ "$(id -u)" != 0 ]; then
        echo "kernel-overlay: needs root (network namespaces)" >&2
        exit 1
    fi
    need ip iproute2
    need bridge iproute2
    local n
    for n in "${NAMES[@]}"; do
        if [ -e "/run/netns/$P$n" ]; then
            echo "kernel-overlay: namespace $P$n exists already (run: $0 down)" >&2
            exit 1
        fi
    done
    trap 'down' ERR
    for n in "${NAMES[@]}"; do
        ip netns add "$P$n"
        ip netns exec "$P$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
        ip -n "$P$n" link set lo up
    done
    local under_mtu=1500 df="" ttl=""
    [ "$fault" = links-mtu ] && under_mtu=1400
    [ "$fault" = mtu ] && df="df set"
    [ "$fault" = fragment ] && df="df unset"
    [ "$fault" = ttl ] && ttl="ttl 1"

    # The underlay: node1 -- router -- node2.
    ip -n "${P}router" link add eth1 mtu "$under_mtu" type veth peer name eth0 netns "${P}node1"
    ip -n "${P}router" link add eth2 mtu "$under_mtu" type veth peer name eth0 netns "${P}node2"
    ip -n "${P}node1" link set eth0 mtu "$under_mtu"
    ip -n "${P}node2" link set eth0 mtu "$under_mtu"
    ip netns exec "${P}router" sysctl -qw net.ipv4.ip_forward=1
    ip -n "${P}router" addr add 172.31.1.1/24 dev eth1
    ip -n "${P}router" addr add 192.168.1.1/24 dev eth2
    ip -n "${P}router" link set eth1 up
    ip -n "${P}router" link set eth2 up
    ip -n "${P}node1" addr add 172.31.1.10/24 dev eth0
    ip -n "${P}node2" addr add 192.168.1.10/24 dev eth0
    ip -n "${P}node1" link set eth0 up
    ip -n "${P}node2" link set eth0 up
    ip -n "${P}node1" route add default via 172.31.1.1
    ip -n "${P}node2" route add default via 192.168.1.1
    if [ "$fault" = mtu ] || [ "$fault" = fragment ]; then
        # ip_forward honours a route's MTU; the link stays at 1500 both ways (a veth drops
        # what exceeds its peer's MTU, which would lose node2's large replies).
        ip -n "${P}router" route replace 192.168.1.0/24 dev eth2 proto kernel scope link \
            src 192.168.1.1 mtu 1400
    fi

    # Each host's sandbox: vxlan0 made in the host's namespace (its socket stays there) and
    # moved into the sandbox, br0, and a veth per container.
    local i vni port flags remote c_ip c_mac other_ip other_mac
    for i in 1 2; do
        vni=4096
        port=4789
        if [ "$i" = 2 ] && [ "$fault" = vni ]; then vni=4097; fi
        if [ "$i" = 2 ] && [ "$fault" = port ]; then port=$node2_port; fi
        flags="$df $ttl"
        [ "$mode" = docker ] && flags="$flags learning proxy l2miss l3miss"
        # shellcheck disable=SC2086
        ip -n "${P}node$i" link add vxlan0 mtu 1450 type vxlan id "$vni" dstport "$port" $flags
        ip -n "${P}node$i" link set vxlan0 netns "${P}sbox$i"
        ip -n "${P}sbox$i" link add br0 type bridge mcast_snooping 0
        ip -n "${P}sbox$i" addr add 10.0.0.1/24 dev br0
        ip -n "${P}sbox$i" link set vxlan0 master br0
        ip -n "${P}sbox$i" link add "veth-c$i" mtu 1450 type veth peer name eth0 netns "${P}c$i"
        ip -n "${P}sbox$i" link set "veth-c$i" master br0
        c_ip=10.0.0.$((i + 2))
        c_mac=02:42:0a:00:00:0$((i + 2))
        ip -n "${P}c$i" link set eth0 address "$c_mac" mtu 1450
        ip -n "${P}c$i" addr add "$c_ip/24" dev eth0
        ip -n "${P}sbox$i" link set br0 up
        ip -n "${P}sbox$i" link set vxlan0 up
        ip -n "${P}sbox$i" link set "veth-c$i" up
        ip -n "${P}c$i" link set eth0 up
        if [ "$i" = 1 ]; then
            remote=192.168.1.10 other_ip=10.0.0.4 other_mac=02:42:0a:00:00:04
        else
            remote=172.31.1.10 other_ip=10.0.0.3 other_mac=02:42:0a:00:00:03
        fi
        if [ "$i" = 2 ] && [ "$fault" = remote ]; then
            remote=172.31.1.99
            if [ "$mode" = learning ]; then
                bridge -n "${P}sbox$i" fdb add "$other_mac" dev vxlan0 dst "$remote" self permanent
                remote=172.31.1.10
            fi
        fi
        if [ "$mode" = docker ]; then
            if ! { [ "$i" = 1 ] && [ "$fault" = neigh ]; }; then
                ip -n "${P}sbox$i" neigh add "$other_ip" lladdr "$other_mac" dev vxlan0 nud permanent
            fi
            if ! { [ "$i" = 1 ] && [ "$fault" = fdb ]; }; then
                bridge -n "${P}sbox$i" fdb add "$other_mac" dev vxlan0 dst "$remote" self permanent
            fi
        else
            bridge -n "${P}sbox$i" fdb append 00:00:00:00:00:00 dev vxlan0 dst "$remote" self permanent
        fi
    done
    trap - ERR
    echo "kernel-overlay: up ($mode${fault:+, fault $fault}); namespaces: ${NAMES[*]/#/$P}"
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    names) for n in "${NAMES[@]}"; do echo "$P$n"; done ;;
    *) usage ;;
esac
