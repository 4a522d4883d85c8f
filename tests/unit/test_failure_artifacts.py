"""The failure artifacts' writer without a cluster: names, masking, a Secret's values never
written, a previous run's files (and only ours) emptied. What it writes from a real cluster is
tested in the cluster tier (``tests/cluster/test_failure_artifacts.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from floe_testing.cluster.artifacts import (
    MARKER,
    FailureArtifacts,
    Folder,
    folder_name_of,
    object_state,
)
from floe_testing.redaction import SecretValues

pytestmark = pytest.mark.unit

SECRET = "artifact-s3cr3t-Vq8w"


@pytest.mark.requirement("001-FR-026")
def test_every_text_is_masked_and_a_secret_s_values_never_written(tmp_path: Path) -> None:
    secrets = SecretValues()
    secrets.add(SECRET)
    folder = Folder(tmp_path, secrets.redact).sub("tests", "a test")
    folder.write("pod.log", f"connecting with password={SECRET}\n")
    folder.append("pod.log", f"again {SECRET[:10]}...\n")
    assert (tmp_path / "tests" / "a_test" / "pod.log").read_text() == (
        "connecting with password=***\nagain ***...\n")
    state = yaml.safe_load(object_state({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "managedFields": [{"manager": "kubectl"}]},
        "data": {"POSTGRES_PASSWORD": "c2VjcmV0"}, "stringData": {"TOKEN": "plain"}}))
    assert state["data"] == {"POSTGRES_PASSWORD": "(not written)"}
    assert state["stringData"] == {"TOKEN": "(not written)"}
    assert "managedFields" not in state["metadata"]
    config_map = yaml.safe_load(object_state({"kind": "ConfigMap", "metadata": {"name": "c"},
                                              "data": {"k": "v"}}))
    assert config_map["data"] == {"k": "v"}


@pytest.mark.requirement("001-FR-053")
def test_each_test_gets_a_folder_of_its_own() -> None:
    ids = ["tests/test_x.py::test_y[a/b]", "tests/test_x.py::test_y[a_b]",
           "tests/test_x.py::test_y[a:b]", "t.py::" + "long" * 80]
    names = [folder_name_of(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert names[0].startswith("tests_test_x.py_test_y_a_b-")
    assert all(len(n) <= 120 and "/" not in n and not n.startswith(".") for n in names)


@pytest.mark.requirement("001-FR-053")
def test_a_run_empties_the_previous_run_s_files_and_no_one_else_s(tmp_path: Path) -> None:
    ours = tmp_path / "artifacts"
    (ours / "tests" / "old").mkdir(parents=True)
    (ours / "run").mkdir()
    (ours / "summary.txt").write_text("old\n")
    (ours / "notes-of-the-user.txt").write_text("mine\n")
    (ours / MARKER).write_text("")
    FailureArtifacts(ours, str).prepare()
    assert sorted(p.name for p in ours.iterdir()) == [MARKER, "notes-of-the-user.txt"]

    theirs = tmp_path / "theirs"  # no marker: not a directory of ours, nothing is removed
    (theirs / "tests").mkdir(parents=True)
    (theirs / "summary.txt").write_text("theirs\n")
    FailureArtifacts(theirs, str).prepare()
    assert sorted(p.name for p in theirs.iterdir()) == [MARKER, "summary.txt", "tests"]
