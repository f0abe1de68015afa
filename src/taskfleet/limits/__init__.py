"""Concurrency and rate limits: neutral ground shared by ``engine`` and ``kinds``.

``slots`` holds the keyed slot pools (job, profile, resource), ``rate_limits``
the smooth per-minute budgets, cooldowns and AIMD, ``request_meter`` the
recent request and token rates shown on the progress line. Pure counters and
clocks passed in; no I/O. May import: ``model``, ``errors``.
"""
