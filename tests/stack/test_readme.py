"""The README's Python blocks run as written against the packaged stack (this session's
cluster): the example test module through KUBECONFIG, the helper script with the cluster's
PostgreSQL given by env vars, as a script user would. The README cannot drift from what
works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession
    from floe_testing.services.postgres.config import PostgresConfig

pytestmark = [pytest.mark.stack, pytest.mark.requirement("001-FR-027")]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> list[tuple[str, str]]:
    """(file name, source) of each README Python block, named by its first comment (the
    ``conftest.py`` declaring a service runs in tests/unit/test_declared_services.py)."""
    blocks = [(Path(m.group(2)).name, m.group(1)) for m in
              re.finditer(r"```python\n(# (\S+).*?\n.*?)```", README.read_text(), re.S)]
    assert [name for name, _ in blocks] == ["test_lakehouse.py", "check_stack.py",
                                            "conftest.py"], blocks
    return blocks


def readme_example() -> tuple[str, str]:
    """The README's example test module."""
    return readme_blocks()[0]


def test_readme_example_runs_as_written(floe_cluster: ClusterSession, tmp_path: Path) -> None:
    name, source = readme_example()
    tests = source.count("\ndef test_") + source.count("    def test_")
    (tmp_path / name).write_text(source)
    env = {**os.environ, "KUBECONFIG": str(floe_cluster.kubeconfig)}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          str(tmp_path / name)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"{tests} passed" in output, output


@pytest.mark.requirement("001-FR-061")
def test_readme_helper_script_runs_as_written(postgres_config: PostgresConfig,
                                              tmp_path: Path) -> None:
    name, source = readme_blocks()[1]
    (tmp_path / name).write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KUBECONFIG"))}
    env.update({"POSTGRES_HOST": postgres_config.host, "POSTGRES_PORT": str(postgres_config.port),
                "POSTGRES_USER": postgres_config.user,
                "POSTGRES_PASSWORD": postgres_config.password.get_secret_value(),
                "POSTGRES_DATABASE": postgres_config.database})
    run = subprocess.run([sys.executable, name], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "stack ok", run.stdout + run.stderr
