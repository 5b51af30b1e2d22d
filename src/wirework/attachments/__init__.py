"""pipework-style attachments (policy): attach, detach, ls, gc, inspect, commands inside a guest.

Rule: one attachment = one guest interface wired to a host bridge, OVS bridge or NIC, with a
record (`attachments.records`, `att/<host>/<id>`) holding its exact undo; its address is
claimed (`attachments.claims`) before anything is wired. `attach` is the pure planner,
`ops` the operations over a `context.HostContext`, `listing` ls/gc/inspect, `guestcmd`
pipework's route/rule/tc inside a guest. Other packages build on these records
(`networks.connops` wires its connections as attachments); nothing here knows about them.
"""
