#!/usr/bin/env bash
# The main job, end to end on this machine (as root): install what is needed, start Docker,
# start two --net=none containers, wire them onto a bridge with wirework's pipework command
# line (the tutorial's S7), show the plan, the result and the two containers pinging each
# other, then undo everything. The tutorial used 192.168.114.0/24; the demo keeps its host
# part but uses 10.250.114.0/24 so nothing here resembles a LAN address of this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh

WW=.venv/bin/wirework
IMAGE=${WIREWORK_TEST_IMAGE:-wirework-busybox:latest}
C1=wirework-demo-1
C2=wirework-demo-2
BR=brdemo0
export WIREWORK_STATE_DIR=${WIREWORK_STATE_DIR:-/var/lib/wirework-demo}

cleanup() {
  "$WW" detach "$C1" >/dev/null 2>&1 || true
  "$WW" detach "$C2" >/dev/null 2>&1 || true
  timeout 60 docker rm -f "$C1" >/dev/null 2>&1 || true
  timeout 60 docker rm -f "$C2" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step timeout 60 docker run -d --net=none --name "$C1" "$IMAGE" sleep 3600
step timeout 60 docker run -d --net=none --name "$C2" "$IMAGE" sleep 3600
step "$WW" pipework "$BR" -i eth1 "$C1" 10.250.114.100/24@10.250.114.1 --dry-run
step "$WW" pipework "$BR" -i eth1 "$C1" 10.250.114.100/24@10.250.114.1
step "$WW" pipework "$BR" -i eth1 "$C2" 10.250.114.101/24@10.250.114.1
step "$WW" ls
step "$WW" inspect "$C1"
step timeout 30 docker exec "$C1" ping -c 3 10.250.114.101
step "$WW" pipework route "$C1" add 10.250.0.0/16 dev eth1 via 10.250.114.1
step timeout 30 docker exec "$C1" ip route
step "$WW" detach "$C1"
step "$WW" detach "$C2"
echo
echo "demo: two --net=none containers were wired, pinged each other, and were unwired again."
