"""Names and ownership tags of what wirework creates.

Generated interface names start with a fixed prefix and fit in 15 characters; released
prefixes never change, because teardown after an upgrade must still recognise them.
Ownership is an interface alias `wirework:<owner>` (and the same owner string in OVS
`external_ids` and nftables/iptables rule comments): only objects carrying it are deleted.
"""

from __future__ import annotations

import hashlib

TAG_PREFIX = "wirework:"
VETH_PREFIX = "wwv"  # host end of an attachment's veth
DOCKER_PEER_PREFIX = "wwd"  # the other end, made in the host for Docker to move into a sandbox
BRIDGE_PREFIX = "ww"  # bridges of wirework networks
OVS_OWNER_KEY = "wirework-owner"


def tag(owner: str) -> str:
    return TAG_PREFIX + owner


def owner_of(alias: str | None) -> str | None:
    if alias and alias.startswith(TAG_PREFIX):
        return alias[len(TAG_PREFIX):]
    return None


def conf_sysctl(family: str, ifname: str, name: str) -> str:
    """`net.<family>.conf.<ifname>.<name>` in sysctl(8)'s spelling: a dot inside the interface
    name is written '/', since the dots of the key are its path separators."""
    return f"net.{family}.conf.{ifname.replace('.', '/')}.{name}"


def short_hash(*parts: str, length: int = 10) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def attachment_id(guest_key: str, cont_ifname: str) -> str:
    """Stable per (guest, interface): re-running an attach finds the same record and names."""
    return short_hash(guest_key, cont_ifname)


def host_veth_name(att_id: str) -> str:
    return VETH_PREFIX + att_id[:12]


def docker_peer_name(att_id: str) -> str:
    return DOCKER_PEER_PREFIX + att_id[:12]


def guest_mac(att_id: str) -> str:
    """A stable MAC per attachment, so a guest wired again (after a restart) keeps its MAC.

    Locally administered unicast (02:...), 40 bits from the attachment id's hash.
    """
    digest = short_hash("mac", att_id, length=10)
    return "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))
