"""The SQLite store (the default): one file, WAL, group commits.

``store`` is the ``Store`` implementation; ``schema`` opens connections and
applies ``migrations/v<N>.sql``; ``jobs``, ``tasks``, ``record`` (the group
commits), ``reads`` and ``files`` run the queries by concept. Every query is
a named block of ``queries.sql``, loaded once at import; only transaction
control and connection PRAGMAs are written in the code. ``transitions`` is
the state-machine gate every status change passes. May import:
``store.base``, ``store.common``, ``model``, ``errors``.
"""
