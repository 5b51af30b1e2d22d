"""Guest adapters: finding a guest's network namespace (`resolve`), Docker's Engine API
(`docker`), starting guest processes (`spawn`), and the CNI plugins a runtime's network
configuration delegates to (`cniexec`).

Rule: guests are found by reference (`docker:NAME`, `pid:N`, `netns:NAME`, a path, a CNI
attachment `cni:ID/IF:PATH`) and described as a `model.guest.Guest`; nothing here changes a
guest's network (a delegated CNI plugin does, as the runtime asked it to).
"""
