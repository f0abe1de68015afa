"""The asyncio runner and its parts: what runs a job's tasks, and nothing else.

``runner`` drives one job; ``scheduler`` (pure) picks what may start;
``window`` holds the claimed tasks; ``buffer`` batches outcomes into group
commits; ``lease_keeper`` heartbeats; ``attempt`` runs one attempt of a
kind; ``retry`` decides the state after it; ``progress`` counts;
``validation`` runs the central check; ``liveness`` tells dead runners;
``records`` is a task's results record. May import: ``kinds``, ``limits``,
``store.base``, ``model``, ``errors``; never a store backend or an interface.
"""
