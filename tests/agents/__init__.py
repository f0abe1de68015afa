"""A stand-in agent CLI for the agent kind's tests (``standin_agent.py``)."""
