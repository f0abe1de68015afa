"""Configuration: settings and where each value came from, profiles, endpoints.

``settings`` builds the one ``Settings`` object (flag > environment >
``taskfleet.toml`` > default); ``profiles`` and ``endpoints`` parse their
tables; ``db_url`` is the one normaliser of store URLs, run by every entry
point before ``store.open_store``. May import: ``model``, ``errors`` and
the standard library only, so that reading the configuration stays cheap
for the CLI.
"""
