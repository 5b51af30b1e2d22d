#!/usr/bin/env bash
# Install what wirework and its tests need on Debian 12, as root: system packages from apt,
# Python packages into ./.venv. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(iproute2 nftables iptables ethtool util-linux kmod procps openvswitch-switch docker.io busybox-static
          etcd-server etcd-client iperf3 graphviz iputils-ping python3 python3-venv python3-pip podman
          containernetworking-plugins)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages may start services through their init scripts where an init exists;
# wirework's scripts start what they need themselves (scripts/services.sh).

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  PY=/usr/bin/python3
fi
stamp=.venv/.wirework-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[test]'
  echo "$want" > "$stamp"
fi
# wirework as a CNI plugin: the launcher runtimes find as "type": "wirework" (WIREWORK_CNI_DIR
# overrides the directory; podman, containerd and CRI-O look in /opt/cni/bin by default).
WIREWORK_NO_SERVICE=1 .venv/bin/wirework cni install --dir "${WIREWORK_CNI_DIR:-/opt/cni/bin}" >/dev/null
echo "setup: ready ($(.venv/bin/wirework --version))"
