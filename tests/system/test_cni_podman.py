"""A real CNI runtime: Debian's podman 4.3 with `network_backend = "cni"`, calling wirework.

Nothing of the machine's own podman or CNI settings is used or changed: a containers.conf
given through CONTAINERS_CONF names a CNI config dir and plugin dirs in a temp dir, podman
gets its own --root/--runroot (vfs storage), and podman runs inside a throwaway "host"
namespace (nsenter --net), so bridges, nftables rules and the ports podman reserves live
there. The busybox image is copied from Docker (`docker save | podman load`). (podman 4.3 still
keeps its blob-info cache in /var/lib/containers/cache whatever --root says: a cache, not a setting.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Namespaces, sh

IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")
HTTPD = "mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www"


@dataclass
class Podman:
    root: Path
    host: str  # the namespace podman (and so every CNI plugin it runs) lives in

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "CONTAINERS_CONF": str(self.root / "containers.conf"),
                # Inherited by the plugins podman runs (libcni passes its environment on).
                "WIREWORK_STATE_DIR": str(self.root / "state"), "WIREWORK_NETNS": self.host,
                "WIREWORK_NO_SERVICE": "1"}

    def __call__(self, *args: str, check: bool = True, stdin: bytes | None = None) -> str:
        argv = ["nsenter", f"--net=/run/netns/{self.host}", "podman", "--root", str(self.root / "root"),
                "--runroot", str(self.root / "runroot"), "--storage-driver", "vfs", *args]
        done = subprocess.run(argv, input=stdin, capture_output=True, env=self.env(), timeout=180, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed: {done.stderr.decode()}")
        return done.stdout.decode().strip()


def write_podman_config(root: Path, plugin_dir: str, host: str) -> None:
    """containers.conf in `root`. conmon runs podman's clean-up (the CNI DEL when a container
    exits) with only `conmon_env_vars` in its environment: wirework's variables go there too,
    or that DEL would look for the attachment in the default state store."""
    for sub in ("net.d", "root", "runroot", "tmp", "state"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conmon_env = [f"PATH={os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}",
                  f"WIREWORK_STATE_DIR={root / 'state'}", f"WIREWORK_NETNS={host}", "WIREWORK_NO_SERVICE=1"]
    (root / "containers.conf").write_text(f"""[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["{plugin_dir}", "/usr/lib/cni"]
network_config_dir = "{root / 'net.d'}"
[engine]
cgroup_manager = "cgroupfs"
conmon_env_vars = {json.dumps(conmon_env)}
events_logger = "file"
events_logfile_path = "{root / 'events.log'}"
tmp_dir = "{root / 'tmp'}"
""")


def conflists(root: Path) -> None:
    """A wirework network and, side by side, one of the reference bridge plugin."""
    wirework = {"cniVersion": "1.0.0", "name": "wwnet", "plugins": [
        {"type": "wirework", "subnet": "10.151.0.0/24", "capabilities": {"portMappings": True, "ips": True, "mac": True}}]}
    reference = {"cniVersion": "1.0.0", "name": "refnet", "plugins": [
        {"type": "bridge", "bridge": "cniref0", "isGateway": True, "ipMasq": True,
         "ipam": {"type": "host-local", "dataDir": str(root / "host-local"), "routes": [{"dst": "0.0.0.0/0"}],
                  "ranges": [[{"subnet": "10.152.0.0/24"}]]}}]}
    for conf in (wirework, reference):
        (root / "net.d" / f"{conf['name']}.conflist").write_text(json.dumps(conf))


@pytest.fixture
def podman(netns: Namespaces) -> Iterator[Podman]:
    from wirework.cni.install import install

    root = Path(tempfile.mkdtemp(prefix="wwpodman", dir="/tmp"))
    plugin_dir = str(root / "bin")
    install(plugin_dir)
    host = netns("podhost")
    write_podman_config(root, plugin_dir, host)
    conflists(root)
    pod = Podman(root, host)
    save = subprocess.run(["docker", "save", IMAGE], capture_output=True, timeout=120, check=True)
    pod("load", stdin=save.stdout)
    yield pod
    ids = pod("ps", "-aq", check=False).split()
    if ids:
        pod("rm", "-f", "-t", "0", *ids, check=False)
    pod("rmi", "-a", "-f", check=False)
    shutil.rmtree(root, ignore_errors=True)


def _store_keys(pod: Podman) -> list[str]:
    from wirework.store.sqlite import SqliteStore

    store = SqliteStore(str(pod.root / "state" / "state.db"))
    try:
        return sorted(e.key for e in store.scan("") if not e.key.endswith("/cursor"))
    finally:
        store.close()


def test_podman_runs_containers_on_a_wirework_network(podman: Podman, netns: Namespaces) -> None:
    pod = podman
    assert "wwnet" in pod("network", "ls", "--format", "{{.Name}}").split()
    pod("run", "-d", "--name", "c1", "--network", "wwnet", IMAGE, "sleep", "600")
    pod("run", "-d", "--name", "c2", "--network", "wwnet", "--ip", "10.151.0.20", "--mac-address", "0a:58:0a:97:00:14",
        "-p", "18091:80", IMAGE, "sh", "-c", HTTPD)
    pod("run", "-d", "--name", "r1", "--network", "refnet", IMAGE, "sleep", "600")  # the reference plugin, side by side
    c1_ip = json.loads(pod("inspect", "c1", "--format", "{{json .NetworkSettings.Networks}}"))["wwnet"]["IPAddress"]
    assert c1_ip.startswith("10.151.0.")
    assert "0a:58:0a:97:00:14" in pod("exec", "c2", "ip", "link", "show", "eth0")
    pod("exec", "c1", "ping", "-c", "1", "-W", "3", "10.151.0.20")
    pod("exec", "c2", "ping", "-c", "1", "-W", "3", c1_ip)
    # The published port, from a "LAN" namespace wired to the host namespace only.
    lan = netns("lan")
    sh("ip", "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", lan, ns=pod.host)
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "lan0", ns=pod.host)
    sh("ip", "link", "set", "lan0", "up", ns=pod.host)
    sh("ip", "addr", "add", "192.0.2.2/24", "dev", "eth0", ns=lan)
    sh("ip", "link", "set", "eth0", "up", ns=lan)
    body = sh("curl", "-s", "--noproxy", "*", "-m", "5", "--retry", "5", "--retry-connrefused", "--retry-delay", "1",
              "http://192.0.2.1:18091/", ns=lan)
    assert body.startswith("hello-")
    pod("rm", "-f", "-t", "0", "c1", "c2", "r1")
    links = sh("ip", "-o", "link", ns=pod.host)
    assert "wwv" not in links and "veth" not in links  # no host end of either plugin is left
    assert "18091" not in sh("nft", "list", "ruleset", ns=pod.host)
    assert _store_keys(pod) == [f"net/{pod.host}/wwnet"]  # the network stays, nothing of its containers
    leases = [f for f in os.listdir(pod.root / "host-local" / "refnet") if f.startswith("10.")]
    assert leases == []  # and the reference plugin released its address too
