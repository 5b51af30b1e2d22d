"""Fakes that ship with wirework, so users' tests and ours can plan without a kernel or etcd."""

from wirework.store.memory import ManualClock, MemoryClusterStore
from wirework.testing.fake import FakeHost

__all__ = ["FakeHost", "ManualClock", "MemoryClusterStore"]
