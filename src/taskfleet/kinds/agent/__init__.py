"""The ``agent`` kind: a coding agent changes a git repository in a worktree of its own.

SPEC section 8. ``turns`` is the seam between the loop and an agent (the
built-in tool-calling agent or an external CLI).
"""
