"""The asyncio runner and its parts: what runs a job's tasks, and nothing else.

``runner`` drives one job; ``scheduler`` (pure) picks what may start;
``window`` holds the claimed tasks; ``attempt`` starts one attempt of a
kind; ``running`` tracks the attempts in flight; ``retry`` decides the
state after an attempt; ``buffer`` batches outcomes into group commits;
``lease_keeper`` heartbeats; ``stopping`` says why a run stops and releases
the job after it; ``progress`` counts; ``validation`` runs the central
check; ``liveness`` tells dead runners; ``records`` is a task's results
record. May import: ``kinds``, ``limits``, ``store.base``, ``model``,
``errors``; never a store backend or an interface.
"""
