"""Choosing and checking a network's subnet (policy, part of `networks`).

Rule: a subnet is picked from the pools (`pools`) only when nothing on the host occupies it:
`occupancy` reads routes, addresses, other networks and Docker's networks, read-only.
"""
