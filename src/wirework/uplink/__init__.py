"""Uplinks (policy): move a NIC's addresses and routes onto a bridge, safely.

Rule: the change is planned (`plan`, pure) and recorded with its exact undo (`state`,
`uplink/<host>/<bridge>`); it is put back automatically unless a connectivity check answers
and, when asked, a confirmation arrives in time (a watchdog process drives the revert from
the record).
"""
