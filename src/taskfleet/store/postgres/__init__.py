"""The PostgreSQL store: many runners on many hosts share one database.

``store`` is the ``Store`` implementation; ``schema`` opens connections and
applies ``migrations/v<N>.sql``; ``jobs``, ``tasks``, ``record`` and
``files`` hold the queries by concept; ``listen`` wakes idle workers on
NOTIFY. psycopg is imported here only. May import: ``store.base``,
``store.common``, ``model``, ``errors``.
"""
