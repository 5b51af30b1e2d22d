"""Guest adapters: finding a guest's network namespace (`resolve`), Docker's Engine API
(`docker`), starting guest processes (`spawn`).

Rule: guests are found by reference (`docker:NAME`, `pid:N`, `netns:NAME`, a path) and
described as a `model.guest.Guest`; nothing here changes a guest's network.
"""
