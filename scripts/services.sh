#!/usr/bin/env bash
# Start the services the tests and the demo use, unless they already run: dockerd, the local
# busybox image (no registry here: built from Debian's busybox-static), and wirework's resident
# service (on a host without systemd: with systemd, scripts/setup.sh enabled its units).
set -euo pipefail
cd "$(dirname "$0")/.."

docker_up() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! docker_up; then
  echo "services: starting dockerd"
  mkdir -p /var/log
  setsid dockerd >/var/log/wirework-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 120); do docker_up && break; sleep 0.5; done
  docker_up || { echo "services: dockerd did not start; see /var/log/wirework-dockerd.log" >&2; exit 1; }
fi

IMAGE=${WIREWORK_TEST_IMAGE:-wirework-busybox:latest}
if ! timeout 30 docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "services: building image $IMAGE from busybox-static"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/www"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
  tar -C "$root" -c . | timeout 120 docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
  rm -rf "$root"
fi
echo "services: docker $(docker version --format '{{.Server.Version}}'), image $IMAGE"

# wirework's resident service on its default socket, started like dockerd above (run this at
# boot on a host without systemd), so that the first `wirework` command is already served warm.
# The tests never use it (tests/conftest.py sets WIREWORK_NO_SERVICE=1); `wirework service stop`
# stops it.
systemd_has_it() { [ -d /run/systemd/system ] && systemctl is-active --quiet wireworkd.socket 2>/dev/null; }
if ! systemd_has_it && [ -z "${WIREWORK_NO_BOOT_SERVICE:-}" ]; then
  WIREWORK_NO_SERVICE=1 .venv/bin/wirework service start --idle-exit 0 >/dev/null \
    || echo "services: the wirework service did not start; see /run/wirework/wireworkd.sock.log" >&2
  echo "services: wirework $(WIREWORK_NO_SERVICE=1 .venv/bin/wirework service status)"
fi
