"""The lab: several "hosts" built from network namespaces on one machine.

Policy, like the other packages: the lab builds no adapters and never imports the API. Its
one rule: everything machine-specific (stores, the switch namespace's runtime host, one
session per lab host) comes from the `LabEnvironment` the API layer passes in
(`wirework.api.lab.lab_manager`).

A lab file (YAML, `examples/*.yaml`) declares hosts, LAN segments, guests and what wirework sets
up on each host. The flow is the project's one flow: `loader` (YAML with line marks + JSON
schema) and `topology` (semantic checks, errors pointing at the file's line) validate;
`resolve` names every object; `build` plans the lab as one `Plan` of steps (`steps` holds the
lab's own step kinds, `kinds` the registry of per-host setup kinds that run through each
host's own session, `kind` their type, `kind_vxlan` the VXLAN kind); `lifecycle` executes,
records and tears down; `check` runs the expected-reachability matrix; `graph` draws it.
"""
