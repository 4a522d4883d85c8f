"""The distributions as users get them: the sdist carries the test suite and its spec, the
metadata carries the project URLs and one extra per client."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.requirement("001-FR-060")
def test_sdist_carries_the_tests_spec_and_license(tmp_path: Path) -> None:
    build = ("import sys, setuptools.build_meta as b; "
             "print(b.build_sdist(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    sdist = tmp_path / done.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in ("LICENSE", "conftest.py", "docs/requirements.md",
                     "tests/unit/test_packaging.py", "tests/integration/conftest.py",
                     "tests/support/postgres_server.py", "examples/test_lakehouse.py",
                     "src/floe_testing/stack/manifests/postgres.yaml",
                     "src/floe_testing/py.typed"):
        assert expected in names, expected
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


@pytest.mark.requirement("001-FR-060")
def test_metadata_names_the_project_urls() -> None:
    from importlib.metadata import metadata

    urls = dict(entry.split(", ", 1) for entry in metadata("floe-testing").get_all("Project-URL")
                or [])
    assert {"Homepage", "Documentation", "Issues", "Source"} <= set(urls), urls
    assert all(url.startswith("https://") for url in urls.values()), urls
