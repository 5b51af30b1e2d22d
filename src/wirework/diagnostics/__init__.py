"""Diagnostics (policy): `doctor` (+ `doctor_fw`) finds what is wrong, `check` tests reachability.

Rule: read-only. Nothing here changes the machine; findings name the object, the cause and
the fix. `check` compares what the records say should reach what with probes (`probe`) sent
between namespaces.
"""
