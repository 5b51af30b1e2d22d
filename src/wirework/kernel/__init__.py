"""Kernel adapters: netlink (pyroute2), named namespaces, sysctl, nftables, iptables, OVS,
processes, and what the lab needs (`labenv`).

Rule: the only place (with `guests` and `store`) that imports pyroute2 or subprocess;
`host.KernelHost` binds them to one network namespace as a `model.host.Host`.
"""
