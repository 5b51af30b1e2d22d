"""pyroute2, loaded without its package `__init__`.

`import pyroute2` (or any `from pyroute2.x import y`) first runs `pyroute2/__init__.py`, which
imports every subsystem (ndb, ipdb, conntrack, ipvs, nl80211, wireguard, plan9, ...): ~0.2 s,
most of a cold CLI command's budget. The adapter uses `IPRoute`, `NetlinkError` and the netns
helpers only. So, when pyroute2 is not imported yet, this registers a bare package module for
`pyroute2` carrying the real package's search path and spec: submodule imports then work as
usual (they only ever import submodules from `pyroute2`, never names defined by its
`__init__`), and the `__init__` never runs. If a program imported pyroute2 itself first, the
real package is used as is. `tests/unit/test_netlink_lib.py` checks both ways and that the
heavy subsystems stay unloaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


def _bare_package() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed as a package: let the imports below fail as usual
    module = types.ModuleType("pyroute2", "pyroute2, loaded without its package __init__ by wirework")
    module.__path__ = list(spec.submodule_search_locations)
    module.__spec__ = spec
    module.__file__ = spec.origin
    module.__package__ = "pyroute2"

    def complete(name: str) -> object:
        if name.startswith("__") or module.__dict__.get("_wirework_completed"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")  # `from pyroute2 import netns`
        # Someone wants the full package after all (`pyroute2.NDB`): run its __init__ now.
        module.__dict__["_wirework_completed"] = True
        assert spec.loader is not None
        spec.loader.exec_module(module)
        return module.__dict__[name]

    module.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["pyroute2"] = module


class _Unused(types.ModuleType):
    """Stands in, while pyroute2 loads, for a module it imports but never uses on wirework's path."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _unused_attribute(self.__name__, name)


class _Inert:
    """What a stand-in's callable returns (pyroute2 builds `mock.Mock()` at import); any use fails loudly."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"{self._what} is a stand-in: wirework.kernel.netlink_lib did not load it for pyroute2")

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return _Inert(f"{self._what}()")


def _unused_attribute(module: str, name: str) -> Any:
    return _Inert(f"{module}.{name}")


#: What pyroute2 0.9.7 imports without needing it here: `unittest.mock` (~10 ms: it brings
#: unittest, difflib, pprint...) for a class attribute nobody reads (iprsocket.NotLocal), and
#: `pyroute2.iproute.ipmock`, its netlink emulator (only with `config.mock_netlink`). They stand
#: in only while pyroute2's modules load and leave sys.modules afterwards: a later `import
#: unittest.mock` anywhere gets the real one. `tests/unit/test_netlink_lib.py` pins this.
_STAND_INS = ("unittest", "unittest.mock", "pyroute2.iproute.ipmock")


def _load() -> tuple[Any, Any, Any]:
    placed = {}
    for name in _STAND_INS:
        if name not in sys.modules:
            placed[name] = sys.modules[name] = _Unused(name)
    if "unittest" in placed and "unittest.mock" in placed:
        placed["unittest"].mock = placed["unittest.mock"]  # type: ignore[attr-defined]
    try:
        from pyroute2 import netns
        from pyroute2.iproute.linux import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError
    finally:
        for name, module in placed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return netns, IPRoute, NetlinkError


_bare_package()
netns, IPRoute, NetlinkError = _load()

__all__ = ["IPRoute", "NetlinkError", "netns"]
