"""wirework: wire containers into networks on Linux, planned, shown and reversible.

Layers, top to bottom (imports point down only; `docs/DESIGN.md` has the map): front (`cli`,
`service`, later `cni`, `dockerplugin`), api (`api`), policy (`attachments`, `networks`,
`uplink`, `tunnels`, `diagnostics`, later `cluster`, `lab`), mechanism (`plan`, `drivers`,
`firewall`, `ipam`, `context`), adapters (`kernel`, `guests`, `store`), base (`model`,
`errors`, `naming`). The package itself imports nothing heavy: the CLI's fast path must not
pay for pyroute2.
"""

from __future__ import annotations

# No imports here: `wirework` is on the CLI's hot path (typing alone costs ~9 ms).
__version__ = "0.1.0"

_API = ("Wirework", "AttachResult", "AttachmentStatus", "GuestReport")


def __getattr__(name: str) -> object:
    if name in _API:
        from wirework import api

        return getattr(api, name)
    if name in ("attach", "detach", "inspect", "ls"):
        from wirework import api

        return getattr(api, name)
    raise AttributeError(name)
