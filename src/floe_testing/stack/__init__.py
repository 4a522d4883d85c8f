"""The default stack shipped with the package: its manifests and the payloads they run.

``manifests/`` holds one file per component (PostgreSQL, MinIO, Polaris, Dagster and the
namespace; its source is the repository's top-level ``manifests/``, which ``stack/manifests``
links to and the wheel carries a copy of). The Polaris bootstrap
(:mod:`floe_testing.stack.polaris_bootstrap`) is the payload of a Kubernetes Job, carried
verbatim in a ConfigMap of ``manifests/polaris.yaml``, and the Dagster code location is a
ConfigMap of ``manifests/dagster.yaml``. A project uses this stack when it names no manifests
directory and has no ``manifests/`` of its own.
"""

from __future__ import annotations

from pathlib import Path

#: The packaged manifests directory (package data, installed with the wheel; in a checkout, the
#: link to the repository's ``manifests/``).
PACKAGED_MANIFESTS = Path(__file__).resolve().parent / "manifests"
