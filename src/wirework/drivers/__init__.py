"""Step kinds (mechanism): small frozen `plan.steps.Step`s for links, routes, namespaces, OVS,
iptables coexistence, sysctl, programs, DHCP, OVS tunnels and Linux VXLAN.

Rule: a step talks only to the `model.host.Host` it is given, returns its exact undo, and
tolerates absence on removal; every module here is listed in `plan.steps.STEP_MODULES`.
"""
