"""Running the selected tests inside the cluster, sharded across pods (``--floe-in-cluster``).

The outer run (the user's ``pytest``) collects, provisions the stack as usual, then hands each
shard of the selected test ids to a pod (``runner``); the pods run the plugin in in-cluster
mode against the stack the outer run brought up (``pod``) and send every test report back in
their log (``frames``); the outer run replays those reports through pytest's own hooks, so its
terminal summary, ``--junitxml`` and traceability report are built exactly as for a local run.

This module is imported by every run (the plugin asks :func:`running_as_shard`): keep it
light.
"""

from __future__ import annotations

import os

#: set in a shard pod (``INDEX/COUNT``): the stack belongs to the outer run
SHARD_ENV = "FLOE_SHARD"


def running_as_shard() -> bool:
    """True inside a shard pod: the stack is the outer run's (never applied or deleted here),
    and every test report is sent back to it."""
    return bool(os.environ.get(SHARD_ENV))
