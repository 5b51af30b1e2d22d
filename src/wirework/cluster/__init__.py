"""Cluster networks across many hosts: definitions and per-host subnets in a shared store
(etcd), an agent per host that converges its kernel, and the data planes (VXLAN, host-gw,
OVS VXLAN/GRE). The one rule: every decision several hosts share is one store transaction;
everything a host needs to repair itself stays in its own store.
"""
