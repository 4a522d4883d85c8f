"""The README's example test module runs as written against the packaged stack (this
session's cluster, reused through KUBECONFIG): the README cannot drift from what works."""

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

pytestmark = [pytest.mark.stack, pytest.mark.requirement("001-FR-027")]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> tuple[str, str]:
    """(file name, source) of the README's first Python block, named by its first comment."""
    block = re.search(r"```python\n(# (\S+).*?\n.*?)```", README.read_text(), re.S)
    assert block is not None, "the README has no example test module"
    return Path(block.group(2)).name, block.group(1)


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
