"""Store selection: URLs, options and their environment variables, parsed in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirework.errors import InvalidInput, StoreUnavailable
from wirework.store import is_cluster_store, open_cluster_store, open_store, store_config
from wirework.store.etcd import range_end
from wirework.store.etcd_conn import split_endpoint
from wirework.store.sqlite import SqliteStore
from wirework.testing import ManualClock, MemoryClusterStore


def test_defaults_and_environment() -> None:
    assert store_config(env={}).url == "sqlite:" and store_config(env={}).prefix == "/wirework/"
    env = {"WIREWORK_STORE": "etcd://a:1,b:2", "WIREWORK_STORE_PREFIX": "/c1/", "WIREWORK_STORE_USER": "u",
           "WIREWORK_STORE_PASSWORD": "hunter2", "WIREWORK_STORE_TIMEOUT": "2.5"}
    config = store_config(env=env)
    assert config.endpoints == ("a:1", "b:2") and config.prefix == "/c1/" and config.timeout == 2.5
    assert config.user == "u" and config.password == "hunter2" and "hunter2" not in repr(config)
    assert store_config("etcd://x:3", prefix="/mine/", env=env).endpoints == ("x:3",)  # explicit wins
    assert store_config("etcd://x:3", prefix="/mine/", env=env).prefix == "/mine/"


def test_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert store_config("etcd://h:1", user="u", password_file=str(secret), env={}).password == "s3cret"
    with pytest.raises(InvalidInput, match="--store-password-file"):
        store_config("etcd://h:1", user="u", password_file=str(tmp_path / "missing"), env={})


@pytest.mark.parametrize(("url", "why"), [
    ("redis://h:1", "known: sqlite:, memory:, etcd:, etcds:"),
    ("localhost:2379", "unknown scheme"),
    ("nothing", "use sqlite:"),
    ("etcd://", "name the endpoints"),
    ("etcd://h:notaport", "HOST:PORT"),
    ("etcd://h:70000", "HOST:PORT"),
    ("etcd://user:pw@h:1", "no credentials in the URL"),
])
def test_bad_urls_name_the_fix(url: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        store_config(url, env={})


def test_inconsistent_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    with pytest.raises(InvalidInput, match="etcds://"):
        store_config("etcd://h:1", ca=str(ca), env={})
    with pytest.raises(InvalidInput, match="both --store-cert and --store-key"):
        store_config("etcds://h:1", cert=str(ca), env={})
    with pytest.raises(InvalidInput, match="not readable"):
        store_config("etcds://h:1", ca=str(tmp_path / "missing"), env={})
    with pytest.raises(InvalidInput, match="apply to etcd"):
        store_config("sqlite:", user="u", env={})
    with pytest.raises(InvalidInput, match="--store-user"):
        store_config("etcd://h:1", password="p", env={})
    with pytest.raises(InvalidInput, match="timeout"):
        store_config("etcd://h:1", timeout="0", env={})
    assert store_config("etcds://h:1", ca=str(ca), env={}).url == "etcds://h:1"


def test_endpoints() -> None:
    assert split_endpoint("10.0.0.5:2379") == ("10.0.0.5", 2379)
    assert split_endpoint("etcd1") == ("etcd1", 2379)
    assert split_endpoint("[fd00::1]:2380") == ("fd00::1", 2380)
    assert store_config("etcd://h1, h2:3/", env={}).endpoints == ("h1", "h2:3")


def test_prefix_range_end() -> None:
    assert range_end(b"/wirework/") == b"/wirework0"
    assert range_end(b"a\xff") == b"b"
    assert range_end(b"\xff") == b"\0"


def test_open_store_by_url(tmp_path: Path) -> None:
    local = open_store(state_dir_path=str(tmp_path))
    assert isinstance(local, SqliteStore) and local.path == str(tmp_path / "state.db")
    assert open_store(f"sqlite:{tmp_path}/other.db").path == f"{tmp_path}/other.db"  # type: ignore[attr-defined]
    assert open_store("sqlite", state_dir_path=str(tmp_path)).path == local.path  # type: ignore[attr-defined]
    assert isinstance(open_store("memory:"), MemoryClusterStore) and is_cluster_store(open_store("memory"))
    assert not is_cluster_store(local)
    with pytest.raises(InvalidInput, match="shared by the hosts"):
        open_cluster_store("sqlite:")
    assert is_cluster_store(open_cluster_store("memory:"))


def test_etcd_unreachable_is_immediate_and_names_the_fix() -> None:
    store = open_store(store_config("etcd://127.0.0.1:9,127.0.0.1:7", env={}))  # nothing listens there
    with pytest.raises(StoreUnavailable, match=r"etcd://127.0.0.1:9,127.0.0.1:7 .*nothing was changed.*--store"):
        store.put("k", 1)


def test_memory_store_clock_and_outage() -> None:
    clock = ManualClock()
    store = MemoryClusterStore(clock)
    lease = store.grant(10)
    store.put("hosts/h1", {"ip": "10.0.0.1"}, lease=lease)
    watch = store.watch("hosts/", store.revision() + 1)
    clock.advance(9)
    assert store.refresh(lease) and store.get("hosts/h1") is not None
    clock.advance(10.5)
    assert store.get("hosts/h1") is None
    assert [e.deleted for e in watch.next(0)] == [True]
    store.fail()
    with pytest.raises(StoreUnavailable):
        store.get("x")
    with pytest.raises(StoreUnavailable):
        watch.next(0)
    store.heal()
    store.put("hosts/h2", 1)
    assert [e.key for e in watch.next(0)] == ["hosts/h2"]
