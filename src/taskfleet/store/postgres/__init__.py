"""The PostgreSQL store: many runners on many hosts share one database.

``store`` is the ``Store`` implementation; ``schema`` opens connections and
applies ``migrations/v<N>.sql``; ``jobs``, ``reads`` (of tasks), ``tasks``
(their bulk writes), ``record`` (group commits), ``propagation`` (dependants
of ended tasks) and ``files`` run the queries by concept; ``listen`` wakes
idle workers on NOTIFY.

Every SQL statement is a named, commented query in ``queries.sql``, loaded
once by ``store.common.queries.load_queries``; no module builds SQL. Every
status change a statement makes passes its (from, to) pairs through the
model's transition gate first (``transitions``). psycopg is imported in this
package only. May import: ``store.base``, ``store.common``, ``model``,
``errors``.
"""
