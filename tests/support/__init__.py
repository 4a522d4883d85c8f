"""Local stand-ins for the stack's services, started by test tiers that need real servers.

Importable as ``support`` because ``tests/`` is on ``sys.path`` once a package conftest under
``tests/`` (e.g. ``tests/integration``) is imported in pytest's default ``prepend`` mode.
"""
