"""Docker-style bridge networks (policy): create/rm/link/ls/inspect, connect/disconnect, run, up.

Rule: a network is a record (`net/<host>/<name>`, `networks.network`) plus what `netplan`
builds from it (bridge, addresses, firewall rules through `networks.fw`, the one place that
maps networks onto `wirework.firewall`); a guest's connection is an attachment
(`wirework.attachments`) plus an endpoint record (`ep/...`) and an IPAM lease. Operations
take a `context.HostContext`: `netops` (networks), `connops` (connections, `connect` holds
their validation), `modes` (`wirework run` guests), `up` (re-apply everything), `hostports`
(listening ports); `subnets` chooses and checks subnets.
"""
