"""Choosing the shared store: `--store`/WIREWORK_STORE on the command line, `store=` in the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import wirework_cli
from wirework.errors import InvalidInput
from wirework.testing import MemoryClusterStore


def test_cli_refuses_an_unknown_store_scheme_in_one_line(state_dir: str) -> None:
    for argv, env in ((["--store", "redis://h:1", "ls"], {}), (["ls"], {"WIREWORK_STORE": "redis://h:1"}),
                      (["ls", "--store", "redis://h:1"], {})):
        done = wirework_cli(*argv, "--state-dir", state_dir, env=env, check=False)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "wirework: store URL 'redis://h:1' is invalid: unknown scheme 'redis'; known: sqlite:, memory:, etcd:, etcds:"]


def test_cli_store_options_are_in_help() -> None:
    out = wirework_cli("ls", "--help").stdout
    for option in ("--store URL", "--store-prefix", "--store-ca", "--store-cert", "--store-key", "--store-user",
                   "--store-password-file", "WIREWORK_STORE"):
        assert option in out


def test_api_keeps_this_hosts_records_local_and_opens_the_shared_store(netns: Any, state_dir: str,
                                                                      etcd_server: Any) -> None:
    from wirework.api import Wirework
    from wirework.store.sqlite import SqliteStore

    with Wirework(netns("h"), state_dir=state_dir, store=etcd_server.url) as ww:
        assert isinstance(ww.store, SqliteStore) and ww.store.path.startswith(state_dir)
        assert ww.store_config.url == etcd_server.url
        rev = ww.cluster_store.put("selection/probe", {"ok": True})
        assert ww.cluster_store.get("selection/probe").revision == rev
        ww.cluster_store.delete("selection/probe")


def test_api_without_a_shared_store_says_how_to_name_one(netns: Any, state_dir: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.api import Wirework

    monkeypatch.delenv("WIREWORK_STORE", raising=False)
    with Wirework(netns("h"), state_dir=state_dir) as ww, pytest.raises(InvalidInput, match="--store etcd://"):
        ww.cluster_store.get("x")


def test_api_with_a_memory_store_uses_it_for_both(netns: Any, state_dir: str) -> None:
    from wirework.api import Wirework

    fake = MemoryClusterStore()
    with Wirework(netns("h"), state_dir=state_dir, store=fake) as ww:
        assert ww.store is fake and ww.cluster_store is fake
    with Wirework(netns("h2"), state_dir=state_dir, store="memory:") as ww:
        assert ww.store is ww.cluster_store
