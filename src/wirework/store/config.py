"""Which store to use: one URL plus a few options, from the command line or the environment.

| option                  | environment                     | default       |
|-------------------------|---------------------------------|---------------|
| `--store URL`           | `WIREWORK_STORE`                | `sqlite:`     |
| `--store-prefix P`      | `WIREWORK_STORE_PREFIX`         | `/wirework/`  |
| `--store-ca FILE`       | `WIREWORK_STORE_CA`             | system CAs    |
| `--store-cert FILE`     | `WIREWORK_STORE_CERT`           |               |
| `--store-key FILE`      | `WIREWORK_STORE_KEY`            |               |
| `--store-user NAME`     | `WIREWORK_STORE_USER`           |               |
| `--store-password-file` | `WIREWORK_STORE_PASSWORD`       |               |
| (none)                  | `WIREWORK_STORE_TIMEOUT`        | 5 (seconds)   |

URLs: `sqlite:` (this host's state dir) or `sqlite:/path/state.db`; `memory:` (in-process, for
tests and dry runs); `etcd://HOST:PORT[,HOST:PORT...]`; `etcds://...` (TLS). The password
has no command-line option on purpose: a command line is readable by every user (`ps`).
Explicit values win over the environment, which wins over the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from wirework.errors import InvalidInput

SCHEMES = ("sqlite", "memory", "etcd", "etcds")
SHARED_SCHEMES = ("etcd", "etcds", "memory")
DEFAULT_URL = "sqlite:"
DEFAULT_PREFIX = "/wirework/"
DEFAULT_TIMEOUT = 5.0
ENV = {
    "url": "WIREWORK_STORE", "prefix": "WIREWORK_STORE_PREFIX", "ca": "WIREWORK_STORE_CA",
    "cert": "WIREWORK_STORE_CERT", "key": "WIREWORK_STORE_KEY", "user": "WIREWORK_STORE_USER",
    "password": "WIREWORK_STORE_PASSWORD", "timeout": "WIREWORK_STORE_TIMEOUT",
}


@dataclass(frozen=True)
class StoreConfig:
    url: str = DEFAULT_URL
    prefix: str = DEFAULT_PREFIX
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0]

    @property
    def location(self) -> str:
        """What follows `scheme:` (and `//`): a path, or the endpoint list."""
        rest = self.url.split(":", 1)[1] if ":" in self.url else ""
        if self.scheme in ("etcd", "etcds"):
            return rest.removeprefix("//").rstrip("/")
        return rest

    @property
    def shared(self) -> bool:
        """A store several hosts (or every part of one test) can share: it has leases and watches."""
        return self.scheme in SHARED_SCHEMES

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(e.strip() for e in self.location.split(",") if e.strip())

    def identity(self) -> tuple[str, ...]:
        """What tells two configurations apart (sessions are cached by it); the password only hashed."""
        import hashlib

        secret = hashlib.sha256((self.password or "").encode()).hexdigest()[:16]
        return (self.url, self.prefix, self.ca or "", self.cert or "", self.key or "", self.user or "", secret,
                str(self.timeout))


def store_config(url: str | None = None, *, env: Mapping[str, str] | None = None, password_file: str | None = None,
                 **explicit: object) -> StoreConfig:
    """Build and check a StoreConfig: explicit values, then WIREWORK_STORE* variables, then defaults."""
    environ = os.environ if env is None else env
    values: dict[str, object] = {k: environ[v] for k, v in ENV.items() if environ.get(v)}
    values.update({k: v for k, v in explicit.items() if v is not None})
    if url:
        values["url"] = url
    if password_file:
        values["password"] = _read_secret(password_file)
    unknown = set(values) - set(ENV)
    if unknown:
        raise TypeError(f"unknown store options: {sorted(unknown)}")
    if "timeout" in values:
        values["timeout"] = _timeout(values["timeout"])
    config = StoreConfig(**values)  # type: ignore[arg-type]
    return check(replace(config, url=_normal_url(config.url)))


def check(config: StoreConfig) -> StoreConfig:
    """Refuse a malformed configuration with the option to fix; returns it unchanged otherwise."""
    scheme = config.scheme
    if scheme not in SCHEMES:
        raise InvalidInput(what="store URL", value=config.url,
                           why=f"unknown scheme {scheme!r}; known: " + ", ".join(f"{s}:" for s in SCHEMES))
    if scheme in ("etcd", "etcds"):
        _check_etcd(config)
    elif config.ca or config.cert or config.key or config.user:
        raise InvalidInput(what="store URL", value=config.url,
                           why="--store-ca/--store-cert/--store-key/--store-user apply to etcd:// and etcds:// only")
    if not config.prefix:
        raise InvalidInput(what="store prefix", value=config.prefix, why="give a non-empty prefix, e.g. /wirework/")
    return config


def _check_etcd(config: StoreConfig) -> None:
    from wirework.store.etcd_conn import split_endpoint

    if not config.endpoints:
        raise InvalidInput(what="store URL", value=config.url, why=f"name the endpoints: {config.scheme}://HOST:PORT[,HOST:PORT]")
    if "@" in config.location:
        raise InvalidInput(what="store URL", value=config.url,
                           why="put no credentials in the URL; use --store-user and WIREWORK_STORE_PASSWORD")
    for endpoint in config.endpoints:
        split_endpoint(endpoint)
    if config.scheme == "etcd" and (config.ca or config.cert or config.key):
        raise InvalidInput(what="store URL", value=config.url, why="TLS files need an etcds:// URL")
    if bool(config.cert) != bool(config.key):
        raise InvalidInput(what="store client certificate", value=config.cert or config.key,
                           why="give both --store-cert and --store-key")
    for option, path in (("--store-ca", config.ca), ("--store-cert", config.cert), ("--store-key", config.key)):
        if path and not os.access(path, os.R_OK):
            raise InvalidInput(what=option, value=path, why="the file does not exist or is not readable")
    if config.password and not config.user:
        raise InvalidInput(what="store password", value="(hidden)", why="give the user too: --store-user NAME")


def _normal_url(url: str) -> str:
    if url in ("sqlite", "memory"):  # the names open_store took before URLs
        return url + ":"
    if ":" not in url:
        raise InvalidInput(what="store URL", value=url,
                           why="use sqlite:[PATH], memory:, etcd://HOST:PORT[,...] or etcds://HOST:PORT[,...]")
    return url


def _timeout(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise InvalidInput(what="store timeout", value=value, why="give a positive number of seconds")
    return seconds


def _read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise InvalidInput(what="--store-password-file", value=path, why=f"cannot read it ({exc.strerror})") from None
