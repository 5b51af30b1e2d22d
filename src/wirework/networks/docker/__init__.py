"""Docker's networks and endpoints on wirework (policy behind the Docker plugin, issue 10).

Rule: a Docker network is an ordinary wirework network (bridge, subnet from wirework's planner,
NAT, isolation, published ports) whose record says Docker made it (`made_by`, `docker_id`);
a Docker endpoint is an ordinary endpoint + attachment whose guest is the endpoint
(`docker-ep:<id>`) and whose address lease is held by its MAC. Docker owns their lifecycle:
wirework's own commands never remove them (Docker's retries are idempotent, and `resync`
removes what Docker forgot while the plugin was away). Modules: `model` (Docker's option and
port-binding shapes, validated), `pools` (the IPAM driver), `nets` (networks), `joins`
(endpoints: the host-side veth Docker moves into the sandbox, published ports), `resync`.
"""
