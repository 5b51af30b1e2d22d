"""The firewall layer: NAT, isolation and published ports in nftables (issue 3, items 6-8).

`model` (what to enforce, `-p` parsing) -> `render` (pure JSON, golden-tested; `text` is the
same as `nft` command lines for dry runs) -> `steps`, `links` and `ports` (one atomic libnftables batch
each, exact undo), plus `check` (port conflicts), `sync` (rebuild everything for `wirework up`) and `state`
(small read-only queries); `fake.FakeNft` stands in for `host.nft` in unit tests. The
adapter is `kernel.nft.Nft` (`host.nft`).

Decisions, and why:

* **One `inet wirework` table** (plus `bridge wirework`, below); nothing else on the host is
  touched, `nft flush ruleset` is repaired by `sync.full_ruleset` (add+delete+add of both
  tables in one batch, so it also works over surviving tables).
* **Published ports are map elements, never rules.** Keys `l4proto . dport` (all host
  addresses) or `daddr . l4proto . dport` (one address); values in two maps per key kind
  (address, port) because nft 1.0.6 JSON cannot declare an `ipv4_addr . inet_service` map
  value. Publishing is two `create element`s: O(1) per lookup and per update (see
  BENCHMARKS.md). The element comment carries the owner. `UnpublishPort` is one batch
  `add` (same key and values) + `delete`: it removes nothing when the port now points at
  another guest address or port. It cannot compare the owner comment in O(1) (nft 1.0.6
  loads a whole map before `get element`), so a guest address reused by another owner is
  told apart by the caller's records, not here.
* **Reads never touch the port maps**: the registry of networks (`networks`, with the owner
  and a digest of the options in the comment) and a copy of `links` live in `bridge
  wirework`, which holds no ports; the hot paths never expect a rejected batch either (the
  kernel's transaction abort costs ~10 ms).
* **DNAT** in `prerouting` (from outside and from guests, `fib daddr type local`) and in
  `output` (from the host itself). Hairpin (a guest reaching its own network's published port
  via a host address) is masqueraded in `postrouting` by the set `hairpin` of
  `subnet . bridge`: keyed by the output bridge because br_netfilter's bridged DNAT reaches
  postrouting without an input interface. With br_netfilter on, a guest reaching *its own*
  published port also needs `hairpin on` on its bridge port (as Docker and kubelet set it):
  the bridge only sends a frame back out of its ingress port then (connect's job).
* **127.0.0.1-only ports**: prerouting never translates `127.0.0.0/8` destinations, so a LAN
  neighbour that routes 127.0.0.1 to the host hits nothing (its packet dies as a martian;
  Docker's DNAT in PREROUTING once let exactly this through). Only `output` maps
  `127.0.0.1:port`. A packet from 127.0.0.1 may leave through a bridge only with
  `route_localnet=1` on that bridge (the kernel's martian rule), so `AddNetworkRules` sets it
  and the `guard` chain (priority raw) drops anything a guest sends to 127.0.0.0/8; the
  127.0.0.0/8 source is masqueraded to the gateway on the way to the guest.
* **Isolation** is routed traffic: verdict maps `from_net`/`to_net` (keyed by bridge) jump to
  per-network chains; `links` holds `brA . brB` pairs accepted before them; a new connection
  into a NATed network from outside is accepted only when DNATed (a published port).
  `internal` drops everything leaving the network and everything entering it.
* **No-icc** must hold with and without br_netfilter, and this kernel lacks `meta ibrname`
  (no NFT_BRIDGE_META), so the `bridge wirework` table's forward chain drops bridged IPv4
  frames whose `saddr . daddr` is in the interval set `noicc` (`subnet . subnet`); with
  br_netfilter the `inet` forward chain drops them as well. Limits: only IPv4 (guests'
  IPv6 link-local traffic on the bridge is not blocked); the complete fix is `isolated on` on
  the guest's bridge ports, set by connect.
* **Docker coexistence**: a drop in any base chain wins over our accepts, so when the iptables
  FORWARD policy is DROP, `AddNetworkRules` inserts `-i BR -j ACCEPT` and `-o BR -j ACCEPT`
  tagged `wirework:net:NAME` into DOCKER-USER (or FORWARD); the filtering itself stays here.
  The test is the policy, not "is this the root netns", so a namespace host with its own DROP
  policy gets the same treatment (tests simulate Docker that way).
* **Forwarding**: `EnsureForwarding` is `SetSysctl("net.ipv4.ip_forward", "1")` under its own
  name (its undo is the `SetSysctl` that restores the old value).
"""
