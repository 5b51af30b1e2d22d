"""Cluster networks in a lab (S11): `networks:` defined in the lab's etcd, hosts with `agent:`,
guests with `connect:` (`steps`: definitions, agents and what the schema cannot check;
`connect`: the guests' setup kind). Kept apart from the lab's own modules: it is one concern.
"""
