"""Refresh the copy of the Polaris bootstrap in the packaged ``manifests/polaris.yaml``.

The module (``src/floe_testing/stack/polaris_bootstrap.py``) is the one source of the Polaris
bootstrap; the ``polaris-bootstrap`` Job runs a verbatim copy of it from the
``polaris-bootstrap-script`` ConfigMap, the last document of that file.
``test_polaris_bootstrap.py`` fails when the copy differs; run

    python tests/manifests/sync_bootstrap_script.py

from the repository root to rewrite that document (everything above it is left untouched).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "src" / "floe_testing" / "stack" / "polaris_bootstrap.py"
MANIFEST = REPO / "src" / "floe_testing" / "stack" / "manifests" / "polaris.yaml"
MARKER = "# GENERATED from src/floe_testing/stack/polaris_bootstrap.py"
CONFIGMAP = "polaris-bootstrap-script"
KEY = "polaris_bootstrap.py"


def render(source: str) -> str:
    """The ConfigMap document (with its leading ``---``) holding ``source`` verbatim."""
    if not source.endswith("\n") or source.endswith("\n\n"):
        raise ValueError(f"{MODULE} must end with exactly one newline")
    if "\t" in source or any(line != line.rstrip() for line in source.splitlines()):
        raise ValueError(f"{MODULE} must have no tabs and no trailing whitespace")
    body = "".join(f"    {line}\n" if line else "\n" for line in source.splitlines())
    return (
        "---\n"
        f"{MARKER} by tests/manifests/sync_bootstrap_script.py:\n"
        "# edit the module, not this copy (tests/manifests fails when the two differ).\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        f"  name: {CONFIGMAP}\n"
        "  namespace: floe-test\n"
        "  labels:\n"
        "    app.kubernetes.io/name: polaris-bootstrap\n"
        "    app.kubernetes.io/part-of: floe-test\n"
        "data:\n"
        f"  {KEY}: |\n"
        f"{body}"
    )


def synced(manifest_text: str, source: str) -> str:
    """``manifest_text`` with its generated document replaced (or appended)."""
    start = manifest_text.find(f"---\n{MARKER}")
    head = manifest_text if start < 0 else manifest_text[:start]
    if not head.endswith("\n"):
        head += "\n"
    return head + render(source)


def main() -> int:
    text = MANIFEST.read_text(encoding="utf-8")
    new = synced(text, MODULE.read_text(encoding="utf-8"))
    if new == text:
        print(f"{MANIFEST} is up to date")
        return 0
    MANIFEST.write_text(new, encoding="utf-8")
    print(f"rewrote the {CONFIGMAP} ConfigMap in {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
