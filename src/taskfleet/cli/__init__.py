"""The command line: parses flags, calls ``service``, renders. Nothing imports it.

May import: ``service``, ``config``, ``input``, ``store`` (to open one),
``model``, ``errors``; heavy modules (rich's big parts, httpx, FastAPI) only
inside the commands that need them, so that ``taskfleet --help`` is fast.
"""
