"""A shard pod's entry point (``python -m floe_testing.in_cluster.pod``).

Unpacks the project's files from the run's ConfigMap into the pod's scratch volume, at the
place the rootdir has relative to the outer run's invocation directory (so paths in reports
read as they do locally), and runs ``python -m pytest`` there: the shard's test ids (an
``@file`` argument), the options the outer run chose, and the project's own ini. It stays as
the container's PID 1 and passes SIGTERM on: the kernel drops a signal PID 1 has no handler
for, so a pytest in its place would ignore the pod's deletion until it is killed.
pytest then loads the plugin, which sees ``FLOE_SHARD``: services by DNS with the pod's
service account, the stack never applied or deleted, every report sent back framed in the log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from floe_testing.in_cluster.code import unpack
from floe_testing.in_cluster.objects import (
    ARGS_ENV,
    CODE_KEY,
    INPUT_DIR,
    INVOCATION_DIR,
    ROOTDIR_ENV,
    WORK_DIR,
    ids_key,
)
from floe_testing.location import SHARD_ENV


def pytest_argv(index: int, rootdir: str) -> list[str]:
    """The pytest command line of shard ``index``: its ids (relative to the rootdir) as
    arguments relative to the invocation directory, in a file beside the project."""
    ids = (Path(INPUT_DIR) / ids_key(index)).read_text().splitlines()
    ids_file = Path(WORK_DIR) / f"floe-shard-{index}.ids"
    prefix = "" if rootdir == "." else f"{rootdir}/"
    ids_file.write_text("".join(f"{prefix}{test_id}\n" for test_id in ids))
    options: list[str] = json.loads(os.environ.get(ARGS_ENV, "[]"))
    return [sys.executable, "-m", "pytest", f"--rootdir={rootdir}", *options, f"@{ids_file}"]


def main() -> None:
    index = int(os.environ[SHARD_ENV].split("/", 1)[0])
    rootdir = os.environ.get(ROOTDIR_ENV, ".")
    invocation = Path(INVOCATION_DIR)
    target = invocation / rootdir
    target.mkdir(parents=True, exist_ok=True)
    unpack((Path(INPUT_DIR) / CODE_KEY).read_bytes(), target)
    argv = pytest_argv(index, rootdir)
    sys.stdout.flush()
    child = subprocess.Popen(argv, cwd=invocation)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    code = child.wait()
    sys.exit(128 - code if code < 0 else code)  # killed by signal N: 128 + N, as a shell says


if __name__ == "__main__":
    main()
