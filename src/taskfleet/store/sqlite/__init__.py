"""The SQLite store (the default): one file, WAL, group commits.

``store`` is the ``Store`` implementation; ``schema`` opens connections and
applies ``migrations/v<N>.sql``; ``jobs``, ``tasks``, ``record`` and
``files`` hold the queries by concept. May import: ``store.base``,
``store.common``, ``model``, ``errors``.
"""
