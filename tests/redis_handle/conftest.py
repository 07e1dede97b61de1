"""The cache tests' fixtures, for the tests of the Redis handle's parts."""

from tests.cache.conftest import observer, prefix

__all__ = ["observer", "prefix"]
