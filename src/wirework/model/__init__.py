"""Plain data (base layer): hosts' protocol and facts (`host`), addresses (`addr`), validated
specs (`specs`), guests (`guest`), tunnel types (`tunnel`).

Rule: no I/O and no wirework import above `errors`/`naming`: everything else builds on these.
"""
