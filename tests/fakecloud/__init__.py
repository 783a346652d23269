"""fakecloud: an in-memory OpenStack (keystone v3, nova v2.1, placement) test
double for infrafs.  See README.md for options, route names and /_fake/."""

from .server import FakeCloud

__all__ = ["FakeCloud"]
