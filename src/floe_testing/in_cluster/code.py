"""The project's files as the pods get them: what git tracks under the rootdir, in one archive.

No image registry is needed to get test code into the cluster: the files travel as a gzipped
tar in a ConfigMap (at most 1 MiB), which each shard pod mounts and unpacks. A ConfigMap is
readable by anyone with the built-in ``view`` role, and every shard pod unpacks it, so what
travels is chosen conservatively:

* in a git work tree, the files git **tracks** (``git ls-files --cached``): an untracked
  ``.env``, key or credentials file on a laptop never leaves it;
* outside git, a walk that honours every ``.gitignore`` on the way (nested ones too) and skips
  caches, virtualenvs and build output;
* plus what the user names explicitly (``--floe-ship-file``), also untracked or ignored files;
* never the plugin's own state (``.pytest-kind/``: a kind cluster's admin kubeconfig), never a
  path that resolves outside the rootdir (a directory replaced by a symlink), never a link,
  never a name that is not UTF-8;
* anything that looks like a secret (keys, certificates, ``.env``, kubeconfigs, credential
  stores; by name or by content) refuses the run, naming the files, unless the user named it.

The run prints what it shipped (files, size) and what it left out.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from floe_testing.errors import ConfigError
from floe_testing.in_cluster.gitignore import GitIgnoreRules

#: never shipped by the walk (no git): caches, environments, build output, VCS data
ALWAYS_SKIPPED = (".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".pytest_cache",
                  ".mypy_cache", ".ruff_cache", ".tox", ".nox", "node_modules", "build", "dist",
                  ".pytest-kind", "*.pyc", "*.egg-info")
#: what a pod unpacks into its scratch volume at most (a small archive may hold a huge file)
DEFAULT_UNPACKED_LIMIT = 64 * 1024 * 1024
SHIP_OPTION = "--floe-ship-file"
_GIT_TIMEOUT = 60.0
_SNIFF_BYTES = 64 * 1024

#: file names that hold secrets (matched against the name, case-insensitively); a module
#: named after what it handles (``kubeconfig.py``, ``credentials.py``) is not one
_SECRET_NAMES = re.compile(
    r"\.env|\.env\..*|.*\.env|.*\.(pem|key|p12|pfx|jks|keystore|p8|ppk|tfstate)|"
    r"id_(rsa|dsa|ecdsa|ed25519)|\.netrc|_netrc|\.pgpass|\.npmrc|\.pypirc|\.git-credentials|"
    r"\.htpasswd|\.dockercfg|credentials|.*credentials.*\.json|client_secret.*\.json|"
    r"kubeconfig|kubeconfig\.(ya?ml|json|conf)|.*\.kubeconfig", re.IGNORECASE)
#: ``.env.example`` and the like are templates, not secrets
_TEMPLATE_SUFFIX = re.compile(r".*\.(example|sample|template|dist)$", re.IGNORECASE)
#: contents that are secrets wherever they are: a private key, an AWS-style secret key given
#: as a literal (a key's 40 characters; not code passing one along, as
#: ``aws_secret_access_key=settings.secret_key`` or ``=$AWS_SECRET_ACCESS_KEY``), a
#: kubeconfig's embedded client key
_SECRET_CONTENT = re.compile(
    rb"-----BEGIN (RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY( BLOCK)?-----|"
    rb"aws_secret_access_key[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+_.(\[])|"
    rb"client-key-data:\s*[\"']?[A-Za-z0-9+/]{40,}", re.IGNORECASE)


@dataclass
class ProjectFiles:
    """The files chosen for the pods (relative POSIX paths under ``root``), and why others
    were left out."""

    root: Path
    names: list[str] = field(default_factory=list)
    #: ``path (why)`` for each file left out
    left_out: list[str] = field(default_factory=list)
    #: where the list came from ("git ls-files" or "a walk honouring .gitignore")
    source: str = ""

    def size(self) -> int:
        return sum((self.root / n).stat().st_size for n in self.names)

    def largest(self, count: int = 5) -> str:
        names = sorted(self.names, key=lambda n: (self.root / n).stat().st_size,
                       reverse=True)[:count]
        return ", ".join(f"{n} ({(self.root / n).stat().st_size // 1024} KiB)" for n in names)


def _git_tracked(root: Path) -> list[str] | None:
    """The files git tracks under ``root`` (relative), or None outside a work tree. Inside
    one (a ``.git`` here or above), git must answer: the walk that replaces it would ship
    untracked files."""
    work_tree = any((d / ".git").exists() for d in (root, *root.resolve().parents))
    try:
        done = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"],
                              capture_output=True, timeout=_GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    else:
        if done.returncode == 0:
            return [os.fsdecode(name) for name in done.stdout.split(b"\0") if name]
        problem = done.stderr.decode(errors="replace").strip()[:300] or \
            f"exit code {done.returncode}"
    if not work_tree:
        return None
    raise ConfigError(
        f"--floe-in-cluster ships the files git tracks in {root}, but `git ls-files` failed: "
        f"{problem}. Fix git there (e.g. `git config --global --add safe.directory {root}` "
        "for a repository owned by another user; install git if it is missing).")


def _walk(root: Path, *, nested: bool) -> list[str]:
    """Every file under ``root`` (that no ``.gitignore`` on the way excludes, when ``nested``);
    caches, environments and VCS data are never entered."""
    found: list[str] = []
    always = GitIgnoreRules.from_lines("", ALWAYS_SKIPPED)
    rules_of: dict[str, GitIgnoreRules] = {}
    for directory, dirs, files in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        inherited = rules_of[Path(relative).parent.as_posix()] if prefix else GitIgnoreRules()
        here = inherited.extended_by(Path(directory) / ".gitignore", prefix) if nested \
            else inherited
        rules_of[relative] = here
        dirs[:] = sorted(d for d in dirs if not always.ignores(prefix + d, is_dir=True)
                         and not here.ignores(prefix + d, is_dir=True))
        found += [prefix + f for f in sorted(files) if not always.ignores(prefix + f,
                                                                          is_dir=False)
                  and not here.ignores(prefix + f, is_dir=False)]
    return found


def _named(root: Path, patterns: Sequence[str]) -> list[str]:
    """Files the user named (``.gitignore``-style patterns relative to the rootdir), tracked
    or not."""
    if not patterns:
        return []
    wanted = GitIgnoreRules.from_lines("", patterns)
    return [name for name in _walk(root, nested=False) if wanted.covers(name)]


def project_files(root: Path, *, state_dirs: Iterable[Path] = (),
                  ship: Sequence[str] = ()) -> ProjectFiles:
    """The rootdir's files to ship (see the module docstring), sorted; raises
    :class:`ConfigError` naming every file that looks like a secret and was not named in
    ``ship`` (the ``--floe-ship-file`` patterns)."""
    tracked = _git_tracked(root)
    files = ProjectFiles(root, source="git ls-files" if tracked is not None
                         else "a walk honouring .gitignore")
    candidates = set(tracked if tracked is not None
                     else _walk(root, nested=True)) | set(_named(root, ship))
    real_root = root.resolve()
    states = [s.resolve() for s in state_dirs]
    explicit = GitIgnoreRules.from_lines("", ship)
    suspects = []
    for name in sorted(candidates):
        path = root / name
        why = _left_out_because(name, path, real_root, states)
        if why is not None:
            files.left_out.append(f"{name!r} ({why})" if why == "not UTF-8" else
                                  f"{name} ({why})")
            continue
        if not path.is_file():  # tracked but deleted in the work tree
            continue
        if not explicit.covers(name):
            reason = secret_reason(path)
            if reason is not None:
                suspects.append(f"{name} ({reason})")
                continue
        files.names.append(name)
    if suspects:
        raise ConfigError(
            f"--floe-in-cluster would ship {len(suspects)} file(s) of {root} that look like "
            "secrets to the cluster (a ConfigMap any reader of the namespace can read, and "
            f"every shard pod): {', '.join(suspects[:10])}"
            + (f" and {len(suspects) - 10} more" if len(suspects) > 10 else "") + ". "
            "Stop tracking them (git rm --cached), or, if they are test data meant to travel, "
            f"name them with {SHIP_OPTION} PATTERN (ini floe_ship_files, env FLOE_SHIP_FILES).")
    return files


def _left_out_because(name: str, path: Path, real_root: Path,
                      states: Sequence[Path]) -> str | None:
    """Why a candidate never travels, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "not UTF-8"
    if path.is_symlink():
        return "a link"
    resolved = path.resolve()
    if not resolved.is_relative_to(real_root):
        return f"resolves outside the rootdir, to {resolved}"
    if any(resolved.is_relative_to(state) for state in states):
        return "floe-testing's own state"
    return None


def secret_reason(path: Path) -> str | None:
    """Why this file looks like a secret (its name, or a private key or credential in its
    first 64 KiB), or None."""
    name = path.name
    if _SECRET_NAMES.fullmatch(name) and not _TEMPLATE_SUFFIX.fullmatch(name):
        return "its name"
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return None
    found = _SECRET_CONTENT.search(head)
    if found is None:
        return None
    # what it holds, never its value: the key's name, or a private key's header line
    label = re.split(r"[\"']?\s*[=:]", found.group(0).decode(errors="replace"), maxsplit=1)[0]
    return f"it holds {label.strip()!r}"


def code_archive(files: ProjectFiles, limit: int,
                 unpacked_limit: int = DEFAULT_UNPACKED_LIMIT) -> bytes:
    """A gzipped tar of the chosen files; over either limit (compressed, for the ConfigMap;
    unpacked, for the pod's scratch space), an error naming the largest files."""
    root = files.root
    total = files.size()
    if total > unpacked_limit:
        raise ConfigError(
            f"--floe-in-cluster: the {len(files.names)} files chosen from {root} "
            f"({files.source}) hold {total // 1024} KiB, more than the "
            f"{unpacked_limit // (1024 * 1024)} MiB a pod unpacks. Largest: {files.largest()}. "
            "Keep data and build output out of what git tracks.")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as archive:
        for name in files.names:
            archive.add(root / name, arcname=name, recursive=False)
    data = buffer.getvalue()
    if len(data) > limit:
        raise ConfigError(
            f"--floe-in-cluster: the files of {root} ({len(files.names)} files, "
            f"{files.source}) compress to {len(data) // 1024} KiB, more than the "
            f"{limit // 1024} KiB a ConfigMap carries to the pods. Largest: "
            f"{files.largest()}. Keep data and build output out of what git tracks.")
    return data


def unpack(data: bytes, target: Path, unpacked_limit: int = DEFAULT_UNPACKED_LIMIT) -> None:
    """Unpack an archive made by :func:`code_archive`, refusing any path that leaves
    ``target`` (absolute, ``..``, links) and more than ``unpacked_limit`` bytes in all."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = archive.getmembers()
        for member in members:
            path = Path(member.name)
            if path.is_absolute() or ".." in path.parts or not member.isfile():
                raise ValueError(f"refusing archive member {member.name!r}")
        total = sum(member.size for member in members)
        if total > unpacked_limit:
            raise ValueError(f"refusing an archive of {total} bytes unpacked (more than "
                             f"{unpacked_limit})")
        for member in members:
            destination = target / member.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            if source is not None:
                destination.write_bytes(source.read(member.size + 1)[:member.size])
                destination.chmod(member.mode & 0o755 | 0o600)
