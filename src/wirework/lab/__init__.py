"""The lab: several "hosts" built from network namespaces on one machine.

A lab file (YAML, `examples/*.yaml`) declares hosts, LAN segments, guests and what wirework sets
up on each host. The flow is the project's one flow: `loader` (YAML with line marks + JSON
schema) and `topology` (semantic checks, errors pointing at the file's line) validate;
`resolve` names every object; `build` plans the lab as one `Plan` of steps (`steps` holds the
lab's own step kinds, `kinds` the registry of per-host setup kinds that run through the same
`Wirework` API as a real host); `lifecycle` executes, records and tears down; `check` runs the
expected-reachability matrix; `graph` draws it.
"""
