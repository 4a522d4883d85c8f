"""001-FR-027, 001-FR-060: the package as users get it. A wheel built from this checkout,
installed with only its ``postgres`` extra into a fresh venv (a small install: no pyarrow,
DuckDB, Dagster or MinIO client), runs a new project's tests (no manifests of its own) against
the stack packaged in the wheel, on this session's cluster reused through KUBECONFIG; the test
that needs a client not installed fails with the pip command that installs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession

pytestmark = [pytest.mark.stack,
              pytest.mark.requirement("001-FR-027", "001-FR-004", "001-FR-060")]

REPO = Path(__file__).resolve().parents[2]

NEW_PROJECT_TEST = """
    import io


    def test_postgres(postgres_connection):
        with postgres_connection.cursor() as cur:
            cur.execute("SELECT current_database() <> 'postgres'")
            assert cur.fetchone() == (True,)


    def test_minio(minio_client, minio_bucket):
        minio_client.put_object(minio_bucket, "a.txt", io.BytesIO(b"hi"), 2)
        assert minio_client.get_object(minio_bucket, "a.txt").read() == b"hi"
"""


def _run(*argv: str | Path, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_wheel_in_a_fresh_venv_runs_a_new_project_on_the_packaged_stack(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, REPO)
    (wheel,) = dist.glob("floe_testing-*.whl")

    # the versions this checkout is tested with, so pip does not re-resolve the world
    frozen = _run(sys.executable, "-m", "pip", "freeze", "--exclude-editable").stdout
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(frozen)
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", constraints,
         f"{wheel}[postgres]")
    installed_names = {line.split("==")[0].lower() for line in _run(
        venv / "bin" / "python", "-m", "pip", "freeze").stdout.splitlines()}
    assert "psycopg2-binary" in installed_names
    heavy = installed_names & {"pyarrow", "pyiceberg", "duckdb", "dagster", "dagster-graphql",
                               "minio", "anyio"}
    assert not heavy, f"a postgres-only install pulled {sorted(heavy)}"

    project = tmp_path / "new-project"
    project.mkdir()
    (project / "test_new.py").write_text(textwrap.dedent(NEW_PROJECT_TEST))
    env = {**os.environ, "KUBECONFIG": str(floe_cluster.kubeconfig)}
    env.pop("PYTEST_ADDOPTS", None)  # the outer run's gates are not the new project's
    run = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider",
                          "-v"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output  # test_minio: its client is not installed
    assert "1 passed, 1 error" in output, output
    assert "minio_client needs the 'minio' module" in output, output
    assert "pip install 'floe-testing[minio]'" in output, output
    installed = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert "manifests from the stack packaged with floe-testing: " \
           f"{installed}/site-packages/floe_testing/stack/manifests" in output, output
    assert not (project / "manifests").exists()
