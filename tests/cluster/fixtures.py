"""etcd for the cluster tests: one member for a test module; each test gets its own key prefix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.cluster.etcd_stub import EtcdMember, StubEtcdStore


@pytest.fixture(scope="module")
def etcd_member() -> Iterator[EtcdMember]:
    member = EtcdMember().start()
    yield member
    member.stop()


@pytest.fixture
def etcd_url(etcd_member: EtcdMember) -> str:
    return f"etcd://127.0.0.1:{etcd_member.port}"


@pytest.fixture
def cluster_prefix() -> str:
    return f"/wwt-{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def cluster_store(etcd_member: EtcdMember, cluster_prefix: str) -> Iterator[StubEtcdStore]:
    store = StubEtcdStore(etcd_member.port, cluster_prefix)
    yield store
    store.close()
