"""What the SQL stores share: row codecs, the plan of a group commit, claim rules.

May import: ``model``, ``errors``; never a backend package.
"""
