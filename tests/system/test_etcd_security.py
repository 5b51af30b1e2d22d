"""etcd with TLS client certificates (a throwaway CA made with openssl) and with user/password
authentication (enabled with etcdctl), reached through etcds:// and --store-user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sh, start_etcd
from wirework.errors import StateError, StoreUnavailable
from wirework.store import open_store, store_config
from wirework.store.etcd_members import TlsFiles

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _cert(pki: Path, name: str, usage: str, san: str | None = None) -> tuple[str, str]:
    """A key and a certificate signed by the CA in pki/."""
    key, csr, crt, ext = (str(pki / f"{name}.{s}") for s in ("key", "csr", "crt", "ext"))
    sh("openssl", "req", *_EC, "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    Path(ext).write_text(f"extendedKeyUsage={usage}\n" + (f"subjectAltName={san}\n" if san else ""))
    sh("openssl", "x509", "-req", "-in", csr, "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
       "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", crt)
    return crt, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pki = tmp_path_factory.mktemp("pki")
    sh("openssl", "req", "-x509", *_EC, "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
       "-days", "1", "-subj", "/CN=wirework-test-ca")
    # etcd's HTTP gateway presents the server certificate to etcd's own gRPC port: it needs clientAuth too.
    server = _cert(pki, "server", "serverAuth,clientAuth", "IP:127.0.0.1")
    client = _cert(pki, "client", "clientAuth")
    sh("openssl", "req", "-x509", *_EC, "-keyout", str(pki / "other.key"), "-out", str(pki / "other.crt"),
       "-days", "1", "-subj", "/CN=another-ca")
    return {"ca": str(pki / "ca.crt"), "server_crt": server[0], "server_key": server[1],
            "client_crt": client[0], "client_key": client[1], "other_ca": str(pki / "other.crt")}


@pytest.fixture(scope="module")
def tls_member(pki: dict[str, str]) -> Iterator[Any]:
    cluster = start_etcd(1, tls=TlsFiles(pki["ca"], pki["server_crt"], pki["server_key"]),
                         client_tls=TlsFiles(pki["ca"], pki["client_crt"], pki["client_key"]))
    yield cluster
    cluster.stop()


def test_etcds_with_client_certificate(tls_member: Any, pki: dict[str, str]) -> None:
    assert tls_member.url.startswith("etcds://")
    store = open_store(store_config(tls_member.url, ca=pki["ca"], cert=pki["client_crt"], key=pki["client_key"], env={}))
    watch = store.watch("t/", store.revision() + 1)
    assert store.create("t/a", {"tls": True})
    assert store.get("t/a").value == {"tls": True}
    assert [e.key for e in watch.next(5)] == ["t/a"]
    watch.cancel()
    store.close()


@pytest.mark.parametrize("files", [{"ca": "ca"}, {"ca": "other_ca", "cert": "client_crt", "key": "client_key"}])
def test_etcds_refused_without_the_right_certificates(tls_member: Any, pki: dict[str, str],
                                                      files: dict[str, str]) -> None:
    store = open_store(store_config(tls_member.url, env={}, **{k: pki[v] for k, v in files.items()}))
    with pytest.raises(StoreUnavailable) as err:
        store.get("t/a")
    assert "TLS" in str(err.value) and "--store-ca" in str(err.value)
    store.close()


def _etcdctl(endpoint: str, *argv: str) -> str:
    return sh("etcdctl", f"--endpoints=http://{endpoint}", *argv)


@pytest.fixture(scope="module")
def auth_member() -> Iterator[Any]:
    """A member with authentication on: root, and user ww allowed under /wirework/ only.
    Tokens live 1 s so that a test can see one expire and be renewed."""
    cluster = start_etcd(1, extra_args=("--auth-token-ttl", "1"))
    ep = cluster.endpoints[0]
    _etcdctl(ep, "user", "add", "root:rootpw")
    _etcdctl(ep, "user", "grant-role", "root", "root")
    _etcdctl(ep, "role", "add", "wwrole")
    _etcdctl(ep, "role", "grant-permission", "wwrole", "--prefix=true", "readwrite", "/wirework/")
    _etcdctl(ep, "user", "add", "ww:wwpw")
    _etcdctl(ep, "user", "grant-role", "ww", "wwrole")
    _etcdctl(ep, "auth", "enable")
    yield cluster
    cluster.stop()


def test_user_and_password(auth_member: Any, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("wwpw\n")
    store = open_store(store_config(auth_member.url, user="ww", password_file=str(secret), env={}))
    lease = store.grant(30)
    watch = store.watch("a/", store.revision() + 1)
    assert store.create("a/k", 1, lease=lease)
    assert [e.key for e in watch.next(5)] == ["a/k"]
    time.sleep(1.5)  # the 1 s token expires unused: the next call gets a new one by itself
    assert store.get("a/k").value == 1
    watch.cancel()
    store.close()


def test_wrong_password_missing_user_and_no_permission(auth_member: Any) -> None:
    bad = open_store(store_config(auth_member.url, user="ww", env={"WIREWORK_STORE_PASSWORD": "nope"}))
    with pytest.raises(StateError, match="refused user 'ww'.*--store-user"):
        bad.get("x")
    anonymous = open_store(store_config(auth_member.url, env={}))
    with pytest.raises(StateError, match="requires a user.*--store-user"):
        anonymous.get("x")
    outside = open_store(store_config(auth_member.url, user="ww", prefix="/other/",
                                      env={"WIREWORK_STORE_PASSWORD": "wwpw"}))
    with pytest.raises(StateError, match="permission denied"):
        outside.put("x", 1)
    for s in (bad, anonymous, outside):
        s.close()
