"""Running the selected tests inside the cluster, sharded across pods (``--floe-in-cluster``).

The outer run (the user's ``pytest``) collects, provisions the stack as usual, then hands each
shard of the selected test ids to a pod (``runner``); the pods run the plugin in in-cluster
mode against the stack the outer run brought up (``pod``) and send every test report back in
their log (``frames``); the outer run replays those reports through pytest's own hooks
(``replay``), so its terminal summary, ``--junitxml`` and traceability report are built
exactly as for a local run. Whether this process is a shard: :mod:`floe_testing.location`.
"""
