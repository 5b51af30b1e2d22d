"""Pure renderers: firewall policy in, libnftables JSON command lists out (golden-tested).

Everything lives in one `inet wirework` table, plus a `bridge wirework` table for no-icc:

* published ports are elements of four maps, never rules: `port_addr`/`port_port` keyed by
  `l4proto . dport` (all host addresses) and `hostport_addr`/`hostport_port` keyed by
  `daddr . l4proto . dport` (one host address). Two fixed DNAT rules per hook look a packet
  up in both maps of a pair, so lookup and update cost do not depend on how many ports exist;
* a network is three chains (`net-NAME-from`, `-to`, `-post`) reached through verdict maps
  keyed by bridge name (`from_net`, `to_net`, `post_net`), plus its bridge in `bridges`:
  adding or removing one never touches another network's rules and needs no rule handles;
* two linked networks are two elements `brA . brB`, `brB . brA` of the `links` set.

The `bridge wirework` table also holds the registry wirework reads back (`networks`: bridge
with a `wirework:net:NAME #digest` comment; `links`: a copy of the inet set). nft 1.0.6 loads
every set element of a table before it lists anything in it, and this table never holds
ports, so reading the registry costs the same with 10 or 10,000 published ports.
"""

from __future__ import annotations

from wirework.firewall import nftjson as j
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.naming import short_hash, tag

Json = j.Json

BASE = "wirework:base"
PORT_ADDR, PORT_PORT = "port_addr", "port_port"
HOSTPORT_ADDR, HOSTPORT_PORT = "hostport_addr", "hostport_port"
BRIDGES, LINKS, HAIRPIN = "bridges", "links", "hairpin"
FROM_NET, TO_NET, POST_NET = "from_net", "to_net", "post_net"
NOICC, NETWORKS = "noicc", "networks"
LOOPBACK = "127.0.0.0/8"
PRIO_RAW, PRIO_DSTNAT, PRIO_FILTER, PRIO_SRCNAT = -300, -100, 0, 100

_L4 = j.match(j.meta("l4proto"), {"set": ["tcp", "udp"]})
_ANY_KEY = j.concat(j.meta("l4proto"), j.payload("th", "dport"))
_IP_KEY = j.concat(j.payload("ip", "daddr"), j.meta("l4proto"), j.payload("th", "dport"))
_NOT_LOOPBACK = j.match(j.payload("ip", "daddr"), j.prefix(LOOPBACK), "!=")


def _add(objs: list[Json]) -> list[Json]:
    return [j.command("add", o) for o in objs]


def base_objects() -> list[Json]:
    """Tables, sets, maps and base chains, without their rules."""
    ports = "inet_proto", "inet_service"
    return [
        j.table(j.INET, BASE),
        j.named_set(BRIDGES, "ifname", BASE),
        j.named_set(LINKS, ["ifname", "ifname"], BASE),
        j.named_set(HAIRPIN, ["ipv4_addr", "ifname"], BASE, interval=True),
        *(j.named_set(m, "ifname", BASE, data="verdict") for m in (FROM_NET, TO_NET, POST_NET)),
        j.named_set(PORT_ADDR, list(ports), BASE, data="ipv4_addr"),
        j.named_set(PORT_PORT, list(ports), BASE, data="inet_service"),
        j.named_set(HOSTPORT_ADDR, ["ipv4_addr", *ports], BASE, data="ipv4_addr"),
        j.named_set(HOSTPORT_PORT, ["ipv4_addr", *ports], BASE, data="inet_service"),
        j.chain("guard", hook="prerouting", prio=PRIO_RAW),
        j.chain("prerouting", hook="prerouting", prio=PRIO_DSTNAT, kind="nat"),
        j.chain("output", hook="output", prio=PRIO_DSTNAT, kind="nat"),
        j.chain("postrouting", hook="postrouting", prio=PRIO_SRCNAT, kind="nat"),
        j.chain("forward", hook="forward", prio=PRIO_FILTER),
        j.table(j.BRIDGE, BASE),
        j.named_set(NOICC, ["ipv4_addr", "ipv4_addr"], BASE, interval=True, family=j.BRIDGE),
        j.named_set(NETWORKS, "ifname", BASE, family=j.BRIDGE),
        j.named_set(LINKS, ["ifname", "ifname"], BASE, family=j.BRIDGE),
        j.chain("forward", j.BRIDGE, hook="forward", prio=PRIO_FILTER),
    ]


def base_rules() -> list[Json]:
    any_dnat = j.dnat_from_maps(_ANY_KEY, PORT_ADDR, PORT_PORT)
    ip_dnat = j.dnat_from_maps(_IP_KEY, HOSTPORT_ADDR, HOSTPORT_PORT)
    bridged = j.match(j.meta("iifname"), "@" + BRIDGES)
    return [
        # route_localnet is on for our bridges (host -> 127.0.0.1 published ports needs it):
        # never let a guest address the host's loopback through them.
        j.rule("guard", [bridged, j.match(j.payload("ip", "daddr"), j.prefix(LOOPBACK)), j.verdict("drop")], BASE),
        # From outside and from guests: loopback destinations are never translated here, so a
        # LAN packet forged to 127.0.0.1 cannot reach a host-only port (it dies as a martian).
        j.rule("prerouting", [_NOT_LOOPBACK, j.fib_local(), _L4, any_dnat], BASE),
        j.rule("prerouting", [_NOT_LOOPBACK, _L4, ip_dnat], BASE),
        j.rule("output", [j.fib_local(), _L4, any_dnat], BASE),
        j.rule("output", [_L4, ip_dnat], BASE),
        j.rule("postrouting", [j.match(j.payload("ip", "saddr"), j.prefix(LOOPBACK)),
                               j.match(j.meta("oifname"), "@" + BRIDGES), {"masquerade": None}], BASE),
        # Hairpin: a guest reaching a published port of its own network through a host address
        # must get the reply back through the host, so its source becomes the gateway. Keyed
        # by the output bridge: br_netfilter's bridged DNAT reaches postrouting without iif.
        j.rule("postrouting", [j.ct("status", "dnat"), j.match(j.concat(j.payload("ip", "saddr"), j.meta("oifname")),
                                                               "@" + HAIRPIN), {"masquerade": None}], BASE),
        j.rule("postrouting", [j.vmap(j.meta("iifname"), POST_NET)], BASE),
        j.rule("forward", [j.ct("state", ["established", "related"]), j.verdict("accept")], BASE),
        j.rule("forward", [j.match(j.concat(j.meta("iifname"), j.meta("oifname")), "@" + LINKS), j.verdict("accept")], BASE),
        j.rule("forward", [j.vmap(j.meta("iifname"), FROM_NET)], BASE),
        j.rule("forward", [j.vmap(j.meta("oifname"), TO_NET)], BASE),
        # Bridged (not routed) frames between two guests of a no-icc network, with or without
        # br_netfilter: matched by addresses, since this kernel lacks `meta ibrname`.
        j.rule("forward", [j.match(j.concat(j.payload("ip", "saddr"), j.payload("ip", "daddr")), "@" + NOICC),
                           j.verdict("drop")], BASE, family=j.BRIDGE),
    ]


def render_base() -> list[Json]:
    """Every command that builds the empty firewall (both tables), as `add` commands."""
    return _add(base_objects() + base_rules())


def net_chains(net: NetworkRules) -> tuple[str, str, str]:
    return f"net-{net.name}-from", f"net-{net.name}-to", f"net-{net.name}-post"


def fingerprint(net: NetworkRules) -> str:
    """The comment on the network's registry element: owner plus a digest of its options.

    A field added later enters the digest only when set, so networks made before it keep theirs.
    """
    text = repr(net) if net.cluster_cidr else repr(net).replace(", cluster_cidr=''", "")
    return f"{tag(net.owner)} #{short_hash(text, length=8)}"


def _network_rules(net: NetworkRules) -> list[Json]:
    src, dst, post = net_chains(net)
    c = tag(net.owner)
    out_br, in_br = j.meta("oifname"), j.meta("iifname")
    dnat = j.ct("status", "dnat")
    rules: list[Json] = []
    if net.internal:
        rules.append(j.rule(src, [j.match(out_br, net.bridge, "!="), j.verdict("drop")], c))
    rules += [
        j.rule(src, [dnat, j.verdict("accept")], c),  # published ports are public, hairpin too
        j.rule(src, [j.match(out_br, net.bridge), j.verdict("accept" if net.icc else "drop")], c),
        j.rule(src, [j.match(out_br, "@" + BRIDGES), j.verdict("drop")], c),  # unlinked networks
        j.rule(src, [j.verdict("accept")], c),
    ]
    if net.internal:
        rules.append(j.rule(dst, [j.verdict("drop")], c))
    rules += [
        j.rule(dst, [dnat, j.verdict("accept")], c),
        j.rule(dst, [j.match(in_br, "@" + BRIDGES), j.verdict("drop")], c),
        *([j.rule(dst, [j.match(j.payload("ip", "saddr"), j.prefix(net.cluster_cidr)), j.verdict("accept")], c)]
          if net.cluster_cidr and not net.internal else []),
        # A NATed network is reached from outside only through published ports.
        j.rule(dst, [j.verdict("drop" if net.masquerade else "accept")], c),
    ]
    if net.masquerade and not net.internal:
        to_cluster = [j.match(j.payload("ip", "daddr"), j.prefix(net.cluster_cidr), "!=")] if net.cluster_cidr else []
        rules.append(j.rule(post, [j.match(out_br, "@" + BRIDGES, "!="), *to_cluster,
                                   j.match(j.payload("ip", "saddr"), j.prefix(net.subnet)), {"masquerade": None}], c))
    return rules


def _network_elements(net: NetworkRules) -> list[Json]:
    src, dst, post = net_chains(net)
    c = tag(net.owner)
    out = [
        j.element(BRIDGES, [j.elem(net.bridge, c)]),
        j.element(HAIRPIN, [j.elem(j.concat(j.prefix(net.subnet), net.bridge), c)]),
        j.element(FROM_NET, [[j.elem(net.bridge, c), j.verdict("jump", src)]]),
        j.element(TO_NET, [[j.elem(net.bridge, c), j.verdict("jump", dst)]]),
        j.element(POST_NET, [[j.elem(net.bridge, c), j.verdict("jump", post)]]),
        j.element(NETWORKS, [j.elem(net.bridge, fingerprint(net))], family=j.BRIDGE),
    ]
    if not net.icc:
        out.append(j.element(NOICC, [j.elem(_noicc_key(net), c)], family=j.BRIDGE))
    return out


def _noicc_key(net: NetworkRules) -> Json:
    return j.concat(j.prefix(net.subnet), j.prefix(net.subnet))


def render_network(net: NetworkRules) -> list[Json]:
    """Chains, rules and map elements of one network, as `add` commands."""
    chains = [j.chain(name) for name in net_chains(net)]
    return _add(chains + _network_rules(net) + _network_elements(net))


def render_network_removal(net: NetworkRules) -> list[Json]:
    """Delete one network's elements and chains (map elements first: they reference the chains)."""
    keys = [
        j.element(BRIDGES, [net.bridge]),
        j.element(HAIRPIN, [j.concat(j.prefix(net.subnet), net.bridge)]),
        j.element(FROM_NET, [net.bridge]),
        j.element(TO_NET, [net.bridge]),
        j.element(POST_NET, [net.bridge]),
        j.element(NETWORKS, [net.bridge], family=j.BRIDGE),
    ]
    if not net.icc:
        keys.append(j.element(NOICC, [_noicc_key(net)], family=j.BRIDGE))
    chains = [j.chain(name) for name in net_chains(net)]
    return [j.command("delete", k) for k in keys] + [j.command(v, c) for c in chains for v in ("flush", "delete")]


def port_maps(m: PortMapping) -> tuple[str, str]:
    return (PORT_ADDR, PORT_PORT) if m.host_ip is None else (HOSTPORT_ADDR, HOSTPORT_PORT)


def port_key(m: PortMapping) -> Json:
    return j.concat(m.proto, m.host_port) if m.host_ip is None else j.concat(m.host_ip, m.proto, m.host_port)


def port_key_text(m: PortMapping) -> str:
    """The same key in nft's own syntax (for `get element`)."""
    return f"{m.proto} . {m.host_port}" if m.host_ip is None else f"{m.host_ip} . {m.proto} . {m.host_port}"


def port_comment(m: PortMapping) -> str:
    return tag(m.owner or f"net:{m.network}")


def render_port(mapping: PortMapping, verb: str = "add") -> list[Json]:
    """The two map elements that publish one port (`verb` "create" fails if the key exists)."""
    addr_map, port_map = port_maps(mapping)
    key = j.elem(port_key(mapping), port_comment(mapping))
    return [
        j.command(verb, j.element(addr_map, [[key, mapping.guest_ip]])),
        j.command(verb, j.element(port_map, [[key, mapping.guest_port]])),
    ]


def render_port_removal(mapping: PortMapping) -> list[Json]:
    return [j.command("delete", j.element(name, [port_key(mapping)])) for name in port_maps(mapping)]


def render_link(bridge_a: str, bridge_b: str, owner: str, verb: str = "add") -> list[Json]:
    c = tag(owner)
    pairs = [j.elem(j.concat(bridge_a, bridge_b), c), j.elem(j.concat(bridge_b, bridge_a), c)]
    return [j.command(verb, j.element(LINKS, [p], family=f)) for f in (j.INET, j.BRIDGE) for p in pairs]


def render_unlink(bridge_a: str, bridge_b: str) -> list[Json]:
    pairs = [j.concat(bridge_a, bridge_b), j.concat(bridge_b, bridge_a)]
    return [j.command("delete", j.element(LINKS, [p], family=f)) for f in (j.INET, j.BRIDGE) for p in pairs]


def link_owner(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"link:{first}+{second}"
