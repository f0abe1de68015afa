"""The command line: parses flags, calls ``service``, renders. Only ``__main__`` imports it.

``main`` (the root group) sits on top of the command modules, which share
``common`` (settings, opening the store), ``options`` (flags spelled the same
everywhere) and ``render`` (how values are written), and never import
``main`` or each other. May import: ``service``, ``config``, ``input``, ``store`` (to open
one), ``model``, ``errors``, and ``server`` to start it (``serve``); heavy
modules (rich's big parts, the engine, FastAPI) only inside the commands
that need them, so that ``taskfleet --help`` is fast.
"""
