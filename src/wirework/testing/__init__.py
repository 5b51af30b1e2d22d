"""Fakes that ship with wirework, so users' tests and ours can plan without a kernel."""

from wirework.testing.fake import FakeHost

__all__ = ["FakeHost"]
