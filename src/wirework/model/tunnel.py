"""The Open vSwitch tunnel types wirework knows (plain data: the CLI's choices read it too)."""

TUNNEL_TYPES = ("gre", "vxlan", "geneve")
