"""IP address management in the state store: leases per network, safe across processes.

Like CNI's host-local allocator, but over the store interface: every lease is a key created
only if absent (`ipam/<host>/<network>/ip/<ip>`), a cursor remembers where the last dynamic
allocation ended so the next one does not scan, and an owner index (`.../owner/<hash>`) finds
a guest's lease in one read, so a guest that comes back gets its address back.
"""

from wirework.ipam.allocator import Ipam, Lease
from wirework.ipam.ranges import AddressRange

__all__ = ["AddressRange", "Ipam", "Lease"]
