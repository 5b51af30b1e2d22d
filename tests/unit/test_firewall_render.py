"""Golden tests: the nftables JSON the firewall renders, compared with literal expected text."""

from __future__ import annotations

import json

from wirework.firewall import render as r
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.firewall.render import Json
from wirework.firewall.sync import full_ruleset


def lines(cmds: list[Json]) -> str:
    return "".join(json.dumps(c, separators=(",", ":")) + "\n" for c in cmds)


WEB = NetworkRules("web", "wwweb", "10.88.0.0/24", "10.88.0.1", icc=False)
DB = NetworkRules("db", "wwdb", "10.89.0.0/24", "10.89.0.1", internal=True, masquerade=False)
UDP = PortMapping("a", "10.88.0.2", "udp", 5353, 53, owner="att:x")
LOCAL = PortMapping("a", "10.88.0.2", "tcp", 8081, 80, "127.0.0.1", owner="att:x")


PORTS = """\
{"add":{"element":{"family":"inet","table":"wirework","name":"port_addr","elem":[[{"elem":{"val":{"concat":["udp",5353]},"comment":"wirework:att:x"}},"10.88.0.2"]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"port_port","elem":[[{"elem":{"val":{"concat":["udp",5353]},"comment":"wirework:att:x"}},53]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"hostport_addr","elem":[[{"elem":{"val":{"concat":["127.0.0.1","tcp",8081]},"comment":"wirework:att:x"}},"10.88.0.2"]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"hostport_port","elem":[[{"elem":{"val":{"concat":["127.0.0.1","tcp",8081]},"comment":"wirework:att:x"}},80]]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"hostport_addr","elem":[{"concat":["127.0.0.1","tcp",8081]}]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"hostport_port","elem":[{"concat":["127.0.0.1","tcp",8081]}]}}}
"""


NETWORK_NO_ICC = """\
{"add":{"chain":{"family":"inet","table":"wirework","name":"net-web-from"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"net-web-to"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"net-web-post"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-from","expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-from","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wwweb"}},{"drop":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-from","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"@bridges"}},{"drop":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-from","expr":[{"accept":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-to","expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-to","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"@bridges"}},{"drop":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-to","expr":[{"drop":null}],"comment":"wirework:net:web"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-web-post","expr":[{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"@bridges"}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.88.0.0","len":24}}}},{"masquerade":null}],"comment":"wirework:net:web"}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"bridges","elem":[{"elem":{"val":"wwweb","comment":"wirework:net:web"}}]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"hairpin","elem":[{"elem":{"val":{"concat":[{"prefix":{"addr":"10.88.0.0","len":24}},"wwweb"]},"comment":"wirework:net:web"}}]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"from_net","elem":[[{"elem":{"val":"wwweb","comment":"wirework:net:web"}},{"jump":{"target":"net-web-from"}}]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"to_net","elem":[[{"elem":{"val":"wwweb","comment":"wirework:net:web"}},{"jump":{"target":"net-web-to"}}]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"post_net","elem":[[{"elem":{"val":"wwweb","comment":"wirework:net:web"}},{"jump":{"target":"net-web-post"}}]]}}}
{"add":{"element":{"family":"bridge","table":"wirework","name":"networks","elem":[{"elem":{"val":"wwweb","comment":"wirework:net:web #24f0c179"}}]}}}
{"add":{"element":{"family":"bridge","table":"wirework","name":"noicc","elem":[{"elem":{"val":{"concat":[{"prefix":{"addr":"10.88.0.0","len":24}},{"prefix":{"addr":"10.88.0.0","len":24}}]},"comment":"wirework:net:web"}}]}}}
"""


NETWORK_INTERNAL_ROUTED = """\
{"add":{"chain":{"family":"inet","table":"wirework","name":"net-db-from"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"net-db-to"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"net-db-post"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-from","expr":[{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"wwdb"}},{"drop":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-from","expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-from","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wwdb"}},{"accept":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-from","expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"@bridges"}},{"drop":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-from","expr":[{"accept":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-to","expr":[{"drop":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-to","expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-to","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"@bridges"}},{"drop":null}],"comment":"wirework:net:db"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"net-db-to","expr":[{"accept":null}],"comment":"wirework:net:db"}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"bridges","elem":[{"elem":{"val":"wwdb","comment":"wirework:net:db"}}]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"hairpin","elem":[{"elem":{"val":{"concat":[{"prefix":{"addr":"10.89.0.0","len":24}},"wwdb"]},"comment":"wirework:net:db"}}]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"from_net","elem":[[{"elem":{"val":"wwdb","comment":"wirework:net:db"}},{"jump":{"target":"net-db-from"}}]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"to_net","elem":[[{"elem":{"val":"wwdb","comment":"wirework:net:db"}},{"jump":{"target":"net-db-to"}}]]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"post_net","elem":[[{"elem":{"val":"wwdb","comment":"wirework:net:db"}},{"jump":{"target":"net-db-post"}}]]}}}
{"add":{"element":{"family":"bridge","table":"wirework","name":"networks","elem":[{"elem":{"val":"wwdb","comment":"wirework:net:db #41c14b13"}}]}}}
"""


NETWORK_REMOVAL = """\
{"delete":{"element":{"family":"inet","table":"wirework","name":"bridges","elem":["wwweb"]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"hairpin","elem":[{"concat":[{"prefix":{"addr":"10.88.0.0","len":24}},"wwweb"]}]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"from_net","elem":["wwweb"]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"to_net","elem":["wwweb"]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"post_net","elem":["wwweb"]}}}
{"delete":{"element":{"family":"bridge","table":"wirework","name":"networks","elem":["wwweb"]}}}
{"delete":{"element":{"family":"bridge","table":"wirework","name":"noicc","elem":[{"concat":[{"prefix":{"addr":"10.88.0.0","len":24}},{"prefix":{"addr":"10.88.0.0","len":24}}]}]}}}
{"flush":{"chain":{"family":"inet","table":"wirework","name":"net-web-from"}}}
{"delete":{"chain":{"family":"inet","table":"wirework","name":"net-web-from"}}}
{"flush":{"chain":{"family":"inet","table":"wirework","name":"net-web-to"}}}
{"delete":{"chain":{"family":"inet","table":"wirework","name":"net-web-to"}}}
{"flush":{"chain":{"family":"inet","table":"wirework","name":"net-web-post"}}}
{"delete":{"chain":{"family":"inet","table":"wirework","name":"net-web-post"}}}
"""


LINK = """\
{"add":{"element":{"family":"inet","table":"wirework","name":"links","elem":[{"elem":{"val":{"concat":["wwa","wwb"]},"comment":"wirework:link:a+b"}}]}}}
{"add":{"element":{"family":"inet","table":"wirework","name":"links","elem":[{"elem":{"val":{"concat":["wwb","wwa"]},"comment":"wirework:link:a+b"}}]}}}
{"add":{"element":{"family":"bridge","table":"wirework","name":"links","elem":[{"elem":{"val":{"concat":["wwa","wwb"]},"comment":"wirework:link:a+b"}}]}}}
{"add":{"element":{"family":"bridge","table":"wirework","name":"links","elem":[{"elem":{"val":{"concat":["wwb","wwa"]},"comment":"wirework:link:a+b"}}]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"links","elem":[{"concat":["wwa","wwb"]}]}}}
{"delete":{"element":{"family":"inet","table":"wirework","name":"links","elem":[{"concat":["wwb","wwa"]}]}}}
{"delete":{"element":{"family":"bridge","table":"wirework","name":"links","elem":[{"concat":["wwa","wwb"]}]}}}
{"delete":{"element":{"family":"bridge","table":"wirework","name":"links","elem":[{"concat":["wwb","wwa"]}]}}}
"""


BASE = """\
{"add":{"table":{"family":"inet","name":"wirework","comment":"wirework:base"}}}
{"add":{"set":{"family":"inet","table":"wirework","name":"bridges","type":"ifname","comment":"wirework:base"}}}
{"add":{"set":{"family":"inet","table":"wirework","name":"links","type":["ifname","ifname"],"comment":"wirework:base"}}}
{"add":{"set":{"family":"inet","table":"wirework","name":"hairpin","type":["ipv4_addr","ifname"],"comment":"wirework:base","flags":["interval"]}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"from_net","type":"ifname","comment":"wirework:base","map":"verdict"}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"to_net","type":"ifname","comment":"wirework:base","map":"verdict"}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"post_net","type":"ifname","comment":"wirework:base","map":"verdict"}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"port_addr","type":["inet_proto","inet_service"],"comment":"wirework:base","map":"ipv4_addr"}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"port_port","type":["inet_proto","inet_service"],"comment":"wirework:base","map":"inet_service"}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"hostport_addr","type":["ipv4_addr","inet_proto","inet_service"],"comment":"wirework:base","map":"ipv4_addr"}}}
{"add":{"map":{"family":"inet","table":"wirework","name":"hostport_port","type":["ipv4_addr","inet_proto","inet_service"],"comment":"wirework:base","map":"inet_service"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"guard","type":"filter","hook":"prerouting","prio":-300,"policy":"accept"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"prerouting","type":"nat","hook":"prerouting","prio":-100,"policy":"accept"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"output","type":"nat","hook":"output","prio":-100,"policy":"accept"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"postrouting","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}}
{"add":{"chain":{"family":"inet","table":"wirework","name":"forward","type":"filter","hook":"forward","prio":0,"policy":"accept"}}}
{"add":{"table":{"family":"bridge","name":"wirework","comment":"wirework:base"}}}
{"add":{"set":{"family":"bridge","table":"wirework","name":"noicc","type":["ipv4_addr","ipv4_addr"],"comment":"wirework:base","flags":["interval"]}}}
{"add":{"set":{"family":"bridge","table":"wirework","name":"networks","type":"ifname","comment":"wirework:base"}}}
{"add":{"set":{"family":"bridge","table":"wirework","name":"links","type":["ifname","ifname"],"comment":"wirework:base"}}}
{"add":{"chain":{"family":"bridge","table":"wirework","name":"forward","type":"filter","hook":"forward","prio":0,"policy":"accept"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"guard","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"@bridges"}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"127.0.0.0","len":8}}}},{"drop":null}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"prerouting","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"127.0.0.0","len":8}}}},{"match":{"op":"==","left":{"fib":{"result":"type","flags":["daddr"]}},"right":"local"}},{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},{"dnat":{"family":"ip","addr":{"map":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@port_addr"}},"port":{"map":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@port_port"}}}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"prerouting","expr":[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"127.0.0.0","len":8}}}},{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},{"dnat":{"family":"ip","addr":{"map":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@hostport_addr"}},"port":{"map":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@hostport_port"}}}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"output","expr":[{"match":{"op":"==","left":{"fib":{"result":"type","flags":["daddr"]}},"right":"local"}},{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},{"dnat":{"family":"ip","addr":{"map":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@port_addr"}},"port":{"map":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@port_port"}}}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"output","expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["tcp","udp"]}}},{"dnat":{"family":"ip","addr":{"map":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@hostport_addr"}},"port":{"map":{"key":{"concat":[{"payload":{"protocol":"ip","field":"daddr"}},{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@hostport_port"}}}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"postrouting","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"127.0.0.0","len":8}}}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"@bridges"}},{"masquerade":null}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"postrouting","expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"match":{"op":"==","left":{"concat":[{"payload":{"protocol":"ip","field":"saddr"}},{"meta":{"key":"oifname"}}]},"right":"@hairpin"}},{"masquerade":null}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"postrouting","expr":[{"vmap":{"key":{"meta":{"key":"iifname"}},"data":"@post_net"}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"forward","expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"forward","expr":[{"match":{"op":"==","left":{"concat":[{"meta":{"key":"iifname"}},{"meta":{"key":"oifname"}}]},"right":"@links"}},{"accept":null}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"forward","expr":[{"vmap":{"key":{"meta":{"key":"iifname"}},"data":"@from_net"}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"inet","table":"wirework","chain":"forward","expr":[{"vmap":{"key":{"meta":{"key":"oifname"}},"data":"@to_net"}}],"comment":"wirework:base"}}}
{"add":{"rule":{"family":"bridge","table":"wirework","chain":"forward","expr":[{"match":{"op":"==","left":{"concat":[{"payload":{"protocol":"ip","field":"saddr"}},{"payload":{"protocol":"ip","field":"daddr"}}]},"right":"@noicc"}},{"drop":null}],"comment":"wirework:base"}}}
"""


def test_ports_are_map_elements() -> None:
    assert lines(r.render_port(UDP) + r.render_port(LOCAL) + r.render_port_removal(LOCAL)) == PORTS


def test_network_no_icc() -> None:
    assert lines(r.render_network(WEB)) == NETWORK_NO_ICC


def test_network_internal_routed() -> None:
    assert lines(r.render_network(DB)) == NETWORK_INTERNAL_ROUTED


def test_network_removal() -> None:
    assert lines(r.render_network_removal(WEB)) == NETWORK_REMOVAL


def test_link_both_directions() -> None:
    assert lines(r.render_link("wwa", "wwb", r.link_owner("b", "a")) + r.render_unlink("wwa", "wwb")) == LINK


def test_base() -> None:
    assert lines(r.render_base()) == BASE


def test_full_ruleset_replaces_both_tables_then_adds_everything() -> None:
    batch = full_ruleset([WEB, DB], [("web", "db"), ("web", "gone")], [UDP, LOCAL])
    head = [{"add": {"table": {"family": "inet", "name": "wirework"}}}, {"delete": {"table": {"family": "inet", "name": "wirework"}}},
            {"add": {"table": {"family": "bridge", "name": "wirework"}}}, {"delete": {"table": {"family": "bridge", "name": "wirework"}}}]
    expected = head + r.render_base() + r.render_network(WEB) + r.render_network(DB)
    expected += r.render_link("wwweb", "wwdb", "link:db+web") + r.render_port(UDP) + r.render_port(LOCAL)
    assert batch == expected


def test_cost_of_a_port_is_constant() -> None:
    """A published port is map elements only (no rule, no chain): the packet path does one map
    lookup whether 10 or 10,000 ports are published, and publishing one more adds the same
    elements whatever the port (a port per rule would make both grow with the count)."""
    def numbers_out(value: object, names: dict[int, str]) -> object:
        if isinstance(value, dict):
            return {k: numbers_out(v, names) for k, v in value.items()}
        if isinstance(value, list):
            return [numbers_out(v, names) for v in value]
        return names.get(value, value) if isinstance(value, int) else value

    def shape(port: int) -> str:
        guest = 80 + port % 7
        batch = r.render_port(PortMapping("a", "10.88.0.2", "tcp", port, guest, owner="att:x"))
        assert all(set(cmd) == {"add"} and set(cmd["add"]) == {"element"} for cmd in batch), batch
        return json.dumps(numbers_out(batch, {port: "PORT", guest: "GUEST-PORT"}))

    assert shape(8) == shape(10_000) == shape(65_535)
