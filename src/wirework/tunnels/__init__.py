"""Open vSwitch tunnels between hosts (policy): GRE, VXLAN and Geneve ports, with their underlay.

Rule: a tunnel is one plan (bridge if missing, MTUs lowered by the encapsulation overhead, the
tagged port) recorded with its exact undo (`tunnel/<host>/<bridge>/<port>`); a userspace
underlay is built by the uplink operation (`wirework.uplink`), called directly. The step kinds
live in `drivers.tunnel`.
"""
