"""001-FR-027: the Dagster instance config and code location of ``manifests/dagster.yaml``.

Checked with the Dagster installed here (the stack's image runs the same major version): the
instance config validates, names a run coordinator that launches runs without a daemon, the
workspace loads the ConfigMap's ``defs.py``, and its job runs to SUCCESS, in process and
through a real local ``dagster-webserver`` submitted by the plugin's ``run_dagster_job``.
Only PostgreSQL storage is swapped for SQLite in the webserver run (no dagster-postgres here).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_testing.cluster.sources import load_manifests
from floe_testing.polling import ConditionFailed, NotReady, PollingConfig, wait_for_condition
from floe_testing.services.dagster.helper import run_dagster_job
from floe_testing.stack import PACKAGED_MANIFESTS

pytestmark = pytest.mark.requirement("001-FR-027")

REPO = Path(__file__).resolve().parents[2]
DOCS = [d for d in load_manifests(PACKAGED_MANIFESTS) if d.component == "dagster"]
#: The job tests/stack runs; it must exist in the code location.
STACK_JOB = "floe_stack_smoke"
PG_ENV = {"DAGSTER_PG_HOST": "postgres.example", "DAGSTER_PG_DB": "dagster",
          "DAGSTER_PG_USERNAME": "u", "DAGSTER_PG_PASSWORD": "p"}


def configmap(name: str) -> dict[str, str]:
    [doc] = [d for d in DOCS if d.kind == "ConfigMap" and d.name == name]
    return dict(doc.obj["data"])


def webserver() -> dict[str, Any]:
    [doc] = [d for d in DOCS if d.kind == "Deployment"]
    [container] = doc.obj["spec"]["template"]["spec"]["containers"]
    return dict(container)


def instance_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(configmap("dagster-instance")["dagster.yaml"])
    return loaded


def test_instance_config_validates_and_needs_no_daemon(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._serdes.config_class import class_from_code_pointer

    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text(configmap("dagster-instance")["dagster.yaml"])
    config, _ = dagster_instance_config(str(tmp_path))
    assert set(config["storage"]) == {"postgres"}
    coordinator = config["run_coordinator"]
    launcher = config["run_launcher"]
    assert class_from_code_pointer(coordinator["module"], coordinator["class"]) is (
        DefaultRunCoordinator), "the default (queued) coordinator needs a dagster-daemon"
    assert class_from_code_pointer(launcher["module"], launcher["class"]) is DefaultRunLauncher
    # every env var the instance config reads is set on the webserver container
    names = {e["name"] for e in webserver()["env"]}
    assert set(PG_ENV) <= names


def test_storage_names_the_psycopg2_driver_whatever_sqlalchemy_defaults_to() -> None:
    """dagster-postgres installs psycopg2 only; SQLAlchemy 2.1 (in the official image since
    its 1.13.25 build) maps a bare ``postgresql://`` to psycopg 3, so the URL names it."""
    from sqlalchemy.engine import make_url

    db = instance_yaml()["storage"]["postgres"]["postgres_db"]
    assert make_url(f"{db['scheme']}://u:p@host:5432/dagster").get_dialect().driver == (
        "psycopg2")


def test_workspace_loads_the_configmap_defs() -> None:
    from dagster._core.workspace.config_schema import process_workspace_config

    code = configmap("dagster-code")
    workspace = yaml.safe_load(code["workspace.yaml"])
    assert process_workspace_config(workspace).success
    [target] = workspace["load_from"]
    python_file = target["python_file"]
    assert python_file["relative_path"] in code
    container = webserver()
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert python_file["working_directory"] in mounts
    assert f"{python_file['working_directory']}/workspace.yaml" in container["command"]
    home = next(e["value"] for e in container["env"] if e["name"] == "DAGSTER_HOME")
    assert f"{home}/dagster.yaml" in mounts, "dagster.yaml must be in DAGSTER_HOME"
    assert home in mounts, "DAGSTER_HOME must be a (writable) volume"
    assert "subPath" not in mounts[home]


def load_defs(tmp_path: Path) -> Any:
    path = tmp_path / "defs.py"
    path.write_text(configmap("dagster-code")["defs.py"])
    spec = importlib.util.spec_from_file_location("floe_stack_defs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def test_stack_job_succeeds_in_process(tmp_path: Path) -> None:
    result = load_defs(tmp_path).get_job_def(STACK_JOB).execute_in_process()
    assert result.success
    assert result.output_for_node("total") == 10


# -- the same config, served by a real webserver ---------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def local_webserver(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """dagster-webserver with the ConfigMap's coordinator, launcher and workspace (SQLite)."""
    home, app = tmp_path / "home", tmp_path / "app"
    home.mkdir()
    app.mkdir()
    instance = instance_yaml()
    instance["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    code = configmap("dagster-code")
    workspace = yaml.safe_load(code["workspace.yaml"])
    workspace["load_from"][0]["python_file"]["working_directory"] = str(app)
    (app / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    (app / "defs.py").write_text(code["defs.py"])
    executable = Path(sys.executable).with_name("dagster-webserver")
    port = _free_port()
    log = tmp_path / "webserver.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(executable), "--host", "127.0.0.1", "--port", str(port), "--workspace",
             str(app / "workspace.yaml")],
            cwd=app, env={**os.environ, "DAGSTER_HOME": str(home)}, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        def answers() -> bool:
            if proc.poll() is not None:
                raise ConditionFailed(f"dagster-webserver exited {proc.returncode}:\n"
                                      f"{log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info",
                                            timeout=2) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, OSError) as exc:
                raise NotReady(str(exc)) from exc

        wait_for_condition(answers, PollingConfig(timeout=120, interval=0.25,
                                                  description="local dagster-webserver"))
        yield "127.0.0.1", port
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_stack_job_runs_to_success_through_the_webserver_without_a_daemon(
        local_webserver: tuple[str, int]) -> None:
    from dagster_graphql import DagsterGraphQLClient

    host, port = local_webserver
    client = DagsterGraphQLClient(host, port_number=port)
    status = run_dagster_job(client, STACK_JOB,
                             polling=PollingConfig(timeout=120, interval=0.5))
    assert status == "SUCCESS"
