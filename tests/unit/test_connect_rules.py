"""Pure rules of `connect`: which network gives the default route, what a guest without one answers."""

from __future__ import annotations

import pytest

from wirework.firewall.model import parse_publish
from wirework.model.guest import Guest
from wirework.networks.connect import no_way_back_note, validate_connect, wants_default_route
from wirework.networks.endpoints import Endpoint

G = Guest("netns", "c", "c", "netns:c", "/run/netns/c", "1:2")


def _ep(default_route: bool) -> Endpoint:
    return Endpoint("web", "-", G, "a", "eth0", "10.0.0.2/24", default_route=default_route)


@pytest.mark.parametrize(("flag", "has_default", "before", "expected"), [
    (None, False, None, True),  # the first network gives it (Docker, podman)
    (None, True, None, False),  # a later one keeps the one there is
    (True, True, None, True),  # --default-route moves it
    (False, False, None, False),  # --no-default-route refuses it
    (None, False, _ep(False), False),  # a guest that restarted keeps what it had
    (None, True, _ep(True), True),
])
def test_which_network_gives_the_default_route(flag: bool | None, has_default: bool, before: Endpoint | None,
                                               expected: bool) -> None:
    assert wants_default_route(validate_connect("web", "c", default_route=flag), has_default, before) is expected


def test_what_a_guest_without_default_route_answers_is_said() -> None:
    ports = parse_publish("8080-8084:80-84") + parse_publish("5353:53/udp")
    note = no_way_back_note(G, ports, ["10.0.0.0/24"])
    assert note is not None and note.startswith(
        "c has no default route: its published ports 5353/udp, 8080/tcp, 8081/tcp and 3 more answer only clients "
        "on 10.0.0.0/24 and the host's 127.0.0.1")
    assert no_way_back_note(G, parse_publish("127.0.0.1:8080:80"), ["10.0.0.0/24"]) is None  # the host reaches it
