"""Attachment records in the store: what wirework wired, and the exact steps that undo it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec
from wirework.plan.steps import Step, step_from_dict
from wirework.store.base import Put, Store

PREFIX = "att/"


def host_id(netns: str | None) -> str:
    return netns or "-"


def att_key(host: str, att_id: str) -> str:
    return f"{PREFIX}{host}/{att_id}"


@dataclass(frozen=True)
class Attachment:
    """One guest interface wired by wirework: the result of attach, what ls/inspect show."""

    id: str
    host: str
    guest: Guest
    spec: AttachSpec
    host_if: str  # the bridge, OVS bridge or NIC (resolved from a MAC when asked so)
    host_kind: str  # "bridge", "ovs", "macvlan"
    host_ifname: str  # the host end of the veth ("" for macvlan)
    cont_ifname: str
    cidr: str | None
    gateway: str | None
    mac: str
    created: float = field(default_factory=time.time)
    dhcp_lease: dict[str, Any] | None = None  # ip, router, seconds, server, obtained, client (attachments.leases)
    undo: tuple[dict[str, Any], ...] = ()
    nonce: str = ""  # the per-attempt part of the ownership tag (see AttachFacts.nonce)
    #: Who asked for it: "wirework" (attach, pipework, connect) or "docker" (the Docker plugin:
    #: Docker owns its lifecycle, wirework only built the host side).
    made_by: str = "wirework"
    #: Its Docker container stopped: the host side is gone, the record and address wait for the
    #: container to start again (`attachments.persist`).
    suspended: bool = False

    @property
    def owner(self) -> str:
        return f"att:{self.id}.{self.nonce}" if self.nonce else f"att:{self.id}"

    def undo_steps(self) -> list[Step]:
        return [step_from_dict(s) for s in self.undo]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["undo"] = list(self.undo)
        return data

    def summary(self) -> dict[str, Any]:
        """What the API and `--json` return: everything but the undo steps."""
        data = self.to_dict()
        data.pop("undo")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        data = dict(data)
        data["guest"] = Guest.from_dict(data["guest"])
        spec = dict(data["spec"])
        spec["dhcp_options"] = tuple(spec.get("dhcp_options", ()))
        data["spec"] = AttachSpec(**spec)
        data["undo"] = tuple(data.get("undo", ()))
        return cls(**data)


def load(store: Store, host: str, att_id: str) -> Attachment | None:
    entry = store.get(att_key(host, att_id))
    return Attachment.from_dict(entry.value) if entry else None


def all_for_host(store: Store, host: str | None = None) -> list[Attachment]:
    prefix = PREFIX if host is None else f"{PREFIX}{host}/"
    return [Attachment.from_dict(e.value) for e in store.scan(prefix)]


def put_op(att: Attachment) -> Put:
    return Put(att_key(att.host, att.id), att.to_dict())
