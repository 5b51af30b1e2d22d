"""Docker's plugin protocol (libnetwork's remote driver and remote IPAM), mapped onto the facade.

Each call is an HTTP POST of JSON to `/Plugin.Activate`, `/NetworkDriver.<Method>` or
`/IpamDriver.<Method>`; `Plugin.handle(path, body)` answers the JSON to send back. Errors wirework
raises on purpose become `{"Err": ...}` (network driver) or `{"Error": ...}` (IPAM), which
Docker prints as one line ("Error response from daemon: remote: wirework: ..."); an unknown
method is `None`, which the server turns into 404 (Docker then treats the call as optional).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wirework.errors import WireworkError

IMPLEMENTS = ["NetworkDriver", "IpamDriver"]
ADDRESS_SPACES = {"LocalDefaultAddressSpace": "wirework-local", "GlobalDefaultAddressSpace": "wirework-global"}
#: Networks are made per host (a cluster network is joined on each host by its own plugin).
CAPABILITIES = {"Scope": "local", "ConnectivityScope": "local"}
#: Docker sends the endpoint's MAC with RequestAddress: retries are recognised by it.
IPAM_CAPABILITIES = {"RequiresMACAddress": True, "RequiresRequestReplay": False}

Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]


def _ok(_: Any, __: dict[str, Any]) -> dict[str, Any]:
    return {}


def _request_pool(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    pid, subnet = ww.docker_request_pool(str(b.get("Pool") or ""), str(b.get("SubPool") or ""),
                                         b.get("Options") or {}, bool(b.get("V6")))
    return {"PoolID": pid, "Pool": subnet, "Data": {}}


def _release_pool(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_release_pool(str(b.get("PoolID") or ""))
    return {}


def _request_address(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    cidr = ww.docker_request_address(str(b.get("PoolID") or ""), str(b.get("Address") or ""), b.get("Options") or {})
    return {"Address": cidr, "Data": {}}


def _release_address(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_release_address(str(b.get("PoolID") or ""), str(b.get("Address") or ""))
    return {}


def _create_network(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_create_network(_id(b, "NetworkID"), b.get("Options") or {}, list(b.get("IPv4Data") or []),
                             list(b.get("IPv6Data") or []))
    return {}


def _delete_network(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_delete_network(_id(b, "NetworkID"))
    return {}


def _create_endpoint(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    iface = b.get("Interface") or {}
    if iface.get("AddressIPv6"):
        raise WireworkError("IPv6 addresses are not supported on wirework networks yet; drop --ipv6/--ip6")
    mac = ww.docker_create_endpoint(_id(b, "NetworkID"), _id(b, "EndpointID"), str(iface.get("Address") or ""),
                                    str(iface.get("MacAddress") or ""), b.get("Options") or {})
    # Docker rejects an answer that changes what it sent: only a MAC it did not give may come back.
    return {"Interface": {"MacAddress": mac} if mac else {}}


def _delete_endpoint(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_delete_endpoint(_id(b, "NetworkID"), _id(b, "EndpointID"))
    return {}


def _join(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    src, gateway = ww.docker_join(_id(b, "NetworkID"), _id(b, "EndpointID"), str(b.get("SandboxKey") or ""))
    # DisableGatewayService: never let Docker add its docker_gwbridge next to a wirework network.
    answer: dict[str, Any] = {"InterfaceName": {"SrcName": src, "DstPrefix": "eth"}, "StaticRoutes": [],
                              "DisableGatewayService": True}
    if gateway:
        answer["Gateway"] = gateway
    return answer


def _program_external(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_program_external(_id(b, "NetworkID"), _id(b, "EndpointID"), b.get("Options") or {})
    return {}


def _revoke_external(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    ww.docker_revoke_external(_id(b, "NetworkID"), _id(b, "EndpointID"))
    return {}


def _endpoint_info(ww: Any, b: dict[str, Any]) -> dict[str, Any]:
    return {"Value": ww.docker_endpoint_info(_id(b, "NetworkID"), _id(b, "EndpointID"))}


def _id(body: dict[str, Any], field: str) -> str:
    value = str(body.get(field) or "")
    if not value or not all(c in "0123456789abcdefABCDEF" for c in value):
        raise WireworkError(f"the request has no valid {field} ({value!r}); is this Docker talking?")
    return value


#: Calls that need no session: answered at once, also while the worker is busy.
STATIC: dict[str, dict[str, Any]] = {
    "/Plugin.Activate": {"Implements": IMPLEMENTS},
    "/NetworkDriver.GetCapabilities": CAPABILITIES,
    "/IpamDriver.GetCapabilities": IPAM_CAPABILITIES,
    "/IpamDriver.GetDefaultAddressSpaces": ADDRESS_SPACES,
}
ROUTES: dict[str, Handler] = {
    "/IpamDriver.RequestPool": _request_pool,
    "/IpamDriver.ReleasePool": _release_pool,
    "/IpamDriver.RequestAddress": _request_address,
    "/IpamDriver.ReleaseAddress": _release_address,
    "/NetworkDriver.CreateNetwork": _create_network,
    "/NetworkDriver.DeleteNetwork": _delete_network,
    "/NetworkDriver.CreateEndpoint": _create_endpoint,
    "/NetworkDriver.DeleteEndpoint": _delete_endpoint,
    "/NetworkDriver.Join": _join,
    "/NetworkDriver.Leave": _ok,  # Docker moves the interface back out next; DeleteEndpoint removes it
    "/NetworkDriver.ProgramExternalConnectivity": _program_external,
    "/NetworkDriver.RevokeExternalConnectivity": _revoke_external,
    "/NetworkDriver.EndpointOperInfo": _endpoint_info,
    "/NetworkDriver.DiscoverNew": _ok,
    "/NetworkDriver.DiscoverDelete": _ok,
}


def known(path: str) -> bool:
    return path in STATIC or path in ROUTES


def error_answer(path: str, message: str) -> dict[str, Any]:
    """Docker reads `Err` from the network driver and `Error` from the IPAM driver."""
    key = "Error" if path.startswith("/IpamDriver.") else "Err"
    return {key: f"wirework: {message}"}


#: dockerd 20.10 encodes a call's body once: when it retries a call whose connection broke
#: after sending (the plugin was killed while it worked), the retry arrives empty.
EMPTY_RETRY = ("Docker sent an empty {method} request: dockerd resends calls without their body when the plugin "
               "did not answer them (it was restarting); nothing was changed, run the docker command again")


def handle(ww: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call against the session `ww`; wirework's errors become Docker-shaped answers."""
    if path in STATIC:
        return dict(STATIC[path])
    if not body and path not in ("/NetworkDriver.DiscoverNew", "/NetworkDriver.DiscoverDelete"):
        return error_answer(path, EMPTY_RETRY.format(method=path.lstrip("/")))
    try:
        return ROUTES[path](ww, body)
    except WireworkError as exc:
        return error_answer(path, str(exc))
