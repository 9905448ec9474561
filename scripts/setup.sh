#!/usr/bin/env bash
# Creates .venv with vxlankit installed (editable).  With "test": also the test tools and the
# Debian tshark, iproute2, iputils-ping and librsvg2-bin packages; with "demo": what every
# command of the README's list needs (export's pyarrow and numpy, crosscheck's pyshark, tshark,
# and the lab's iproute2 and iputils-ping).  Safe to run again; does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=${1:-}

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        if [ ! -f /tmp/.vxlankit-apt-updated ]; then
            apt-get update -qq && touch /tmp/.vxlankit-apt-updated
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "setup: please install: $*" >&2
        return 1
    fi
}

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv python3-pip
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$want_test" = test ] || [ "$want_test" = demo ]; then
    if [ "$want_test" = test ]; then
        .venv/bin/python -m pip install -q -e '.[test]'
    else
        .venv/bin/python -m pip install -q -e '.[export,crosscheck]'
    fi
    if ! command -v tshark >/dev/null; then
        # tshark asks whether non-root users may capture; answer before it asks.
        echo "wireshark-common wireshark-common/install-setuid boolean false" \
            | debconf-set-selections 2>/dev/null || true
        apt_install tshark
    fi
    # The ladder SVG's test renders it (tests/synth/test_diagram_svg.py).
    if ! command -v rsvg-convert >/dev/null; then
        apt_install librsvg2-bin
    fi
    # vxlankit lab's tests (tests/lab): network namespaces, bridge, ping.
    if ! command -v ip >/dev/null || ! command -v bridge >/dev/null \
            || ! command -v ping >/dev/null; then
        apt_install iproute2 iputils-ping
    fi
else
    .venv/bin/python -m pip install -q -e .
fi
