"""A lab's `etcd:` node on real etcd: three members on loopback, one inside a lab host."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import RUN_ID, sh
from tests.ns.test_lab import wirework
from wirework.lab.etcd import root
from wirework.store import open_store, store_config
from wirework.store.etcd_members import load_cluster

LAB = """\
name: {name}
hosts:
  h1: {{}}
  h2: {{}}
segments:
  lan:
    members:
      h1: 192.168.77.1/24
      h2: 192.168.77.2/24
etcd: {etcd}
"""


def _runs(pid: int | None, member: str) -> bool:
    """pid is still a live etcd process of that member (not a zombie, not a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return member.encode() in f.read()
    except OSError:
        return False


def _lab(tmp_path: Path, name: str, etcd: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(LAB.format(name=name, etcd=etcd))
    return str(path)


def test_three_members_on_loopback_up_converge_down(tmp_path: Path, state_dir: str) -> None:
    name = f"e3{RUN_ID}"
    path = _lab(tmp_path, name, "{members: 3}")
    try:
        wirework(state_dir, "lab", "up", "-q", path)
        cluster = load_cluster(root(name))
        assert cluster is not None and len(cluster.members) == 3 and all(cluster.alive(i) for i in range(3))
        status = wirework(state_dir, "lab", "status").stdout
        assert f"etcd: {cluster.url}" in status
        store = open_store(store_config(cluster.url, env={}))
        assert store.create("lab/probe", 1) and store.get("lab/probe").value == 1
        store.close()
        pids = [cluster.pid(i) for i in range(3)]
        wirework(state_dir, "lab", "up", "-q", path)  # converges: the same members keep running
        assert [load_cluster(root(name)).pid(i) for i in range(3)] == pids  # type: ignore[union-attr]
    finally:
        wirework(state_dir, "lab", "down", path, check=False)
    assert not os.path.exists(root(name))
    assert not any(_runs(pid, m.name) for pid, m in zip(pids, cluster.members, strict=True))


def test_one_member_inside_a_lab_host_reached_across_the_segment(tmp_path: Path, state_dir: str) -> None:
    name = f"e1{RUN_ID}"
    path = _lab(tmp_path, name, "{host: h1}")
    try:
        wirework(state_dir, "lab", "up", "-q", path)
        cluster = load_cluster(root(name))
        assert cluster is not None and cluster.url == "etcd://192.168.77.1:2379"
        assert cluster.netns == f"wwl-{name}-h1"
        pid = cluster.pid(0)
        ep = "--endpoints=http://192.168.77.1:2379"
        sh("etcdctl", ep, "put", "/probe", "from-h2", ns=f"wwl-{name}-h2")  # h2 reaches it over the lab segment
        assert "from-h2" in sh("etcdctl", ep, "get", "/probe", ns=f"wwl-{name}-h2")
        assert f"etcd: {cluster.url}" in wirework(state_dir, "lab", "status").stdout
    finally:
        wirework(state_dir, "lab", "down", path, check=False)
    assert not os.path.exists(root(name)) and not _runs(pid, cluster.members[0].name)
