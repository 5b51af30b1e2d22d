"""wirework as Docker's network and IPAM driver, over Docker's (legacy) plugin protocol.

Rule: this front speaks Docker's protocol and nothing else; every decision is the facade's
(`Wirework.docker_*`, policy in `networks.docker`). `server` serves HTTP/1.1 + JSON on
`/run/docker/plugins/NAME.sock` (one worker thread owns the session, so requests run one at a
time, in order); `protocol` maps each `/Plugin.*`, `/NetworkDriver.*` and `/IpamDriver.*` call to
one facade method and shapes answers and errors the way Docker reads them.
"""

from wirework.dockerplugin.server import PluginServer

__all__ = ["PluginServer"]
