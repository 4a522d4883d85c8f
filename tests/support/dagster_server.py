"""A local ``dagster-webserver`` subprocess serving :mod:`support.dagster_defs`.

``DAGSTER_HOME`` is a fresh temp dir whose ``dagster.yaml`` selects the
``DefaultRunCoordinator`` (runs launch at once; no daemon is needed) and disables telemetry.
The webserver runs in its own process group, and :meth:`LocalDagster.stop` terminates the
whole group (webserver, code server, run workers), so nothing outlives the session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe_testing.polling import ConditionFailed, NotReady, PollingConfig, wait_for_condition
from support.processes import free_port, stop_process_group

DEFS_FILE = Path(__file__).with_name("dagster_defs.py")

_WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""

DAGSTER_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def webserver_executable() -> str:
    """``dagster-webserver`` next to this interpreter (the venv), else from PATH."""
    beside = Path(sys.executable).with_name("dagster-webserver")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dagster-webserver")
    if found is None:
        raise RuntimeError(
            "dagster-webserver is not installed: pip install dagster dagster-webserver "
            "(the integration tier runs a real Dagster webserver)"
        )
    return found


class WebserverExited(ConditionFailed):
    """The webserver process ended while we waited for it to come up."""


@dataclass
class LocalDagster:
    """One webserver; ``host``/``port`` are where :class:`DagsterGraphQLClient` connects."""

    host: str = "127.0.0.1"
    port: int = 0
    home: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    startup_timeout: float = 120.0

    @property
    def log_path(self) -> Path:
        assert self.home is not None, "start() first"
        return self.home / "webserver.log"

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the webserver's output, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> None:
        """Write DAGSTER_HOME, start the webserver, wait until its code location is loaded.

        A webserver that exits during startup (e.g. another process took the port between
        :func:`free_port` and the bind) is retried on a new port, twice.
        """
        self.home = Path(tempfile.mkdtemp(prefix="floe-it-dagster-"))
        (self.home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
        for attempt in range(3):
            try:
                self._launch()
                return
            except WebserverExited:
                if attempt == 2:
                    raise

    def _launch(self) -> None:
        assert self.home is not None
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None
        self.port = free_port(self.host)
        env = {**os.environ, "DAGSTER_HOME": str(self.home)}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [webserver_executable(), "-h", self.host, "-p", str(self.port),
                 "-f", str(DEFS_FILE)],
                cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for_condition(
            self._answers,
            PollingConfig(timeout=self.startup_timeout, interval=0.25,
                          description=f"dagster-webserver on {self.host}:{self.port}"),
        )
        wait_for_condition(
            self._location_loaded,
            PollingConfig(timeout=self.startup_timeout, interval=0.25,
                          description=f"Dagster code location {DEFS_FILE.name}"),
        )

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise WebserverExited(
                f"dagster-webserver exited with {self.proc.returncode}:\n{self.log_tail()}"
            )
        url = f"http://{self.host}:{self.port}/server_info"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError) as exc:
            raise NotReady(f"{url}: {exc}") from exc

    def _graphql(self, query: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def _location_loaded(self) -> bool:
        """True once the defs file loaded; its load error ends the wait at once."""
        data = self._graphql(_WORKSPACE_QUERY)
        entries = data["data"]["workspaceOrError"].get("locationEntries") or []
        if not entries or entries[0]["loadStatus"] != "LOADED":
            raise NotReady(f"code location not loaded yet: {entries}")
        loaded = entries[0]["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            raise ConditionFailed(f"{DEFS_FILE} failed to load: {loaded.get('message')}")
        return True

    def stop(self) -> None:
        """Terminate the webserver's process group and remove DAGSTER_HOME. Idempotent."""
        try:
            if self.proc is not None:
                stop_process_group(self.proc)
                self.proc = None
        finally:
            if self.home is not None:
                shutil.rmtree(self.home, ignore_errors=True)
                self.home = None
