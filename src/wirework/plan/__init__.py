"""Plans and the one executor (mechanism): `steps` (Step, Plan, the registry by kind),
`executor` (journal, rollback, crash recovery).

Rule: nothing changes the machine except a step run by the executor; every plan is journaled
before its first step, so a crash is undone by `executor.recover`.
"""
