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
# The `wirework` command: pip's generic script cannot pass interpreter flags; this launcher starts
# Python without `site` and with the paths written in (wirework.cli.launcher).
.venv/bin/python -m wirework.cli.launcher .venv/bin/wirework >/dev/null
# The resident service from boot on, so that even the first command is served warm: on a host
# with systemd, its socket and service units (contrib/systemd/) are installed and enabled
# (WIREWORK_NO_SYSTEMD=1 skips this); without systemd, scripts/services.sh starts it.
if [ -d /run/systemd/system ] && [ -z "${WIREWORK_NO_SYSTEMD:-}" ]; then
  install -m 0644 contrib/systemd/wireworkd.socket /etc/systemd/system/wireworkd.socket
  sed "s|^ExecStart=.*|ExecStart=$PWD/.venv/bin/wirework service run --idle-exit 0|" \
    contrib/systemd/wireworkd.service > /etc/systemd/system/wireworkd.service
  # A systemd that cannot manage units here (a container's) must not stop the set-up:
  # scripts/services.sh then starts the service as it does without systemd.
  if systemctl daemon-reload && systemctl enable --now wireworkd.socket wireworkd.service >/dev/null; then
    echo "setup: wireworkd.socket and wireworkd.service enabled (systemd)"
  else
    echo "setup: systemd did not take wireworkd's units; scripts/services.sh starts the service" >&2
  fi
fi
# wirework as a CNI plugin: the launcher runtimes find as "type": "wirework" (WIREWORK_CNI_DIR
# overrides the directory; podman, containerd and CRI-O look in /opt/cni/bin by default).
WIREWORK_NO_SERVICE=1 .venv/bin/wirework cni install --dir "${WIREWORK_CNI_DIR:-/opt/cni/bin}" >/dev/null
echo "setup: ready ($(.venv/bin/wirework --version))"
