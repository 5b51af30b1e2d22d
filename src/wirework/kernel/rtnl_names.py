"""Route scope and protocol names as the kernel numbers them (`ip route`'s words).

Kept apart from `netlink_routes` so that validating a command line does not import pyroute2.
"""

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
PROTOS = {"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}
