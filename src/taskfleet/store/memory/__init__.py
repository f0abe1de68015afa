"""The in-memory store: the reference for the store contract and fast unit tests.

May import: ``store.base``, ``store.common``, ``model``, ``errors``.
"""
