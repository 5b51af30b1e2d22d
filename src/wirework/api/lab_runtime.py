"""The host the lab's plan runs on: the switch namespace's adapters plus `LabOps`.

The API layer builds it for the lab (`api.lab`): a `KernelHost` bound to the lab's switch
namespace for the steps that act there, the namespace and program adapters from
`wirework.kernel.labenv`, private OVS instances, the lab's etcd members
(`wirework.store.etcd_members`), and one `Wirework` session per lab host
(`Wirework(netns=<host ns>, state_dir=<host state dir>)`), kept open while the lab runs.
It is also the `namespaces` of `drivers.namespaces`: deleting a namespace closes the
sessions' sockets inside it first.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence

from wirework.api.session import Wirework
from wirework.kernel import labenv
from wirework.kernel.host import KernelHost
from wirework.kernel.ovs_instance import instance_at, start_instance
from wirework.store import etcd_members


class LabRuntime(KernelHost):
    """KernelHost of the switch namespace, plus the LabOps the lab's own steps use."""

    def __init__(self, switch_ns: str) -> None:
        super().__init__(switch_ns)
        self.lab = self
        self.namespaces = self
        self._namespaces = labenv.Namespaces()
        self._daemons = labenv.Daemons()
        self._sessions: dict[str, Wirework] = {}

    # LabOps
    def ns_create(self, name: str) -> bool:
        return self._namespaces.create(name)

    def ns_exists(self, name: str) -> bool:
        return self._namespaces.exists(name)

    def ns_delete(self, name: str) -> bool:
        # Open sockets inside a namespace keep it (and its interfaces) alive: close them first.
        session = self._sessions.pop(name, None)
        if session is not None:
            session.close()
        for s in self._sessions.values():
            s.host.net.forget("/run/netns/" + name)
        # The switch namespace's own socket is the kernel host's; it reopens lazily.
        self.net.close()
        return self._namespaces.delete(name)

    def names(self, prefix: str) -> list[str]:
        return self._namespaces.names(prefix)

    def daemon_start(self, ns_path: str, argv: list[str], pidfile: str, log: str) -> None:
        self._daemons.start(ns_path, argv, pidfile, log)

    def daemon_stop(self, pidfile: str) -> bool:
        return self._daemons.stop(pidfile)

    def daemon_alive(self, pidfile: str) -> bool:
        return self._daemons.alive(pidfile)

    def ovs_start(self, netns: str, rundir: str) -> None:
        start_instance(netns, rundir)

    def ovs_stop(self, netns: str, rundir: str) -> None:
        instance_at(netns, rundir).stop()

    def ovs_running(self, netns: str, rundir: str) -> bool:
        return instance_at(netns, rundir).running()

    # EtcdOps (wirework.lab.etcd): the lab's etcd members
    @staticmethod
    def etcd_layout(tag: str, members: int, host: str, netns: str | None, ports: Sequence[int] | None) -> str:
        return etcd_members.cluster_to_json(etcd_members.plan_cluster(tag, members=members, host=host, netns=netns,
                                                                      ports=ports))

    @staticmethod
    def etcd_running_layout(root: str) -> str:
        """The layout of the cluster recorded in root when every member runs, else ""."""
        cluster = etcd_members.load_cluster(root)
        if cluster is None or not all(cluster.alive(m.name) for m in cluster.members):
            return ""
        return etcd_members.cluster_to_json(cluster)

    def etcd_start(self, layout: str) -> None:
        etcd_members.cluster_from_dict(json.loads(layout)).start()

    def etcd_stop(self, root: str) -> None:
        cluster = etcd_members.load_cluster(root)
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    def session(self, netns: str, state_dir: str, ovs_db: str | None) -> Wirework:
        name = netns.rsplit("/", 1)[-1]
        session = self._sessions.get(name)
        if session is None:
            session = Wirework(netns=name, state_dir=state_dir, ovs_db=ovs_db)
            self._sessions[name] = session
        return session

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        super().close()
