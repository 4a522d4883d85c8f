"""The project's files as the pods get them: the rootdir, as git would commit it, in one archive.

No image registry is needed to get test code into the cluster: the files travel as a gzipped
tar in a ConfigMap (at most 1 MiB), which each shard pod mounts and unpacks. In a git work
tree the files are what ``git ls-files --cached --others --exclude-standard`` lists (so every
``.gitignore`` holds); elsewhere, a walk that skips the usual caches, virtualenvs and build
output and the patterns of the rootdir's ``.gitignore``.
"""

from __future__ import annotations

import fnmatch
import io
import os
import subprocess
import tarfile
from pathlib import Path

from floe_testing.errors import ConfigError

#: never shipped by the walk (no git): caches, environments, build output
_ALWAYS_SKIPPED = (".git", ".hg", ".venv", "venv", "__pycache__", ".pytest_cache", ".mypy_cache",
                   ".ruff_cache", ".tox", ".nox", "node_modules", "build", "dist", ".pytest-kind",
                   "*.pyc", "*.egg-info")
_GIT_TIMEOUT = 60.0


def _git_files(root: Path) -> list[str] | None:
    """The files git would commit under ``root`` (relative), or None outside a work tree."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"], capture_output=True, timeout=_GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return [name for name in done.stdout.decode().split("\0") if name]


def _ignore_patterns(root: Path) -> list[str]:
    gitignore = root / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.is_file() else []
    return [*_ALWAYS_SKIPPED,
            *(line.strip().strip("/") for line in lines
              if line.strip() and not line.startswith(("#", "!")))]


def _walked_files(root: Path) -> list[str]:
    patterns = _ignore_patterns(root)

    def skipped(relative: str) -> bool:
        name = relative.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)

    found = []
    for directory, dirs, files in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        dirs[:] = sorted(d for d in dirs if not skipped(prefix + d))
        found += [prefix + f for f in sorted(files) if not skipped(prefix + f)]
    return found


def project_files(root: Path) -> list[str]:
    """The rootdir's files to ship, relative and sorted (regular files only)."""
    names = _git_files(root)
    if names is None:
        names = _walked_files(root)
    return sorted(n for n in set(names) if (root / n).is_file() and not (root / n).is_symlink())


def code_archive(root: Path, limit: int) -> bytes:
    """A gzipped tar of :func:`project_files`; over ``limit`` bytes, an error naming the
    largest files and how to leave them out."""
    names = project_files(root)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as archive:
        for name in names:
            archive.add(root / name, arcname=name, recursive=False)
    data = buffer.getvalue()
    if len(data) > limit:
        largest = sorted(names, key=lambda n: (root / n).stat().st_size, reverse=True)[:5]
        listed = ", ".join(f"{n} ({(root / n).stat().st_size // 1024} KiB)" for n in largest)
        raise ConfigError(
            f"--floe-in-cluster: the files of {root} ({len(names)} files) compress to "
            f"{len(data) // 1024} KiB, more than the {limit // 1024} KiB a ConfigMap carries to "
            f"the pods. Largest: {listed}. Leave data and build output out of the rootdir's "
            "files with .gitignore (they are shipped as git would commit them).")
    return data


def unpack(data: bytes, target: Path) -> None:
    """Unpack an archive made by :func:`code_archive`, refusing any path that leaves
    ``target`` (absolute, ``..``, links)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            path = Path(member.name)
            if path.is_absolute() or ".." in path.parts or not member.isfile():
                raise ValueError(f"refusing archive member {member.name!r}")
        for member in archive.getmembers():
            destination = target / member.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            if source is not None:
                destination.write_bytes(source.read())
                destination.chmod(member.mode & 0o755 | 0o600)
