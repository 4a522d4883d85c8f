"""``.gitignore`` patterns, as git reads them, for trees that are not git work trees.

A project outside git still has ``.gitignore`` files (an unpacked sdist, a copy of a work
tree); the in-cluster run honours them all, nested ones included, the way git does: a pattern
with a slash is anchored at its file's directory, one without matches at any depth below it,
a trailing slash matches directories only, ``!`` re-includes, ``**`` spans directories, and
the last matching pattern wins. The same patterns name the files a user ships explicitly
(``--floe-ship-file``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def glob_regex(pattern: str) -> str:
    """A regex for the relative paths a ``.gitignore`` pattern matches (below its directory)."""
    anchored = "/" in pattern
    body = pattern.lstrip("/")
    out = [] if anchored else ["(?:.*/)?"]
    i = 0
    while i < len(body):
        if body.startswith("**/", i) and (i == 0 or body[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i) and i + 2 == len(body) and (i == 0 or body[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and "]" in body[i + 2:]:
            end = body.index("]", i + 2)
            inner = body[i + 1:end]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append(f"[{inner.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        elif body[i] == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        else:
            out.append(re.escape(body[i]))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Rule:
    base: str  # the directory of the .gitignore, "" or "dir/"
    regex: re.Pattern[str]
    negated: bool
    directories_only: bool


@dataclass(frozen=True)
class GitIgnoreRules:
    """The patterns in force in one directory: its ancestors' ``.gitignore`` files, then
    its own."""

    rules: tuple[_Rule, ...] = ()

    @classmethod
    def from_lines(cls, base: str, lines: Iterable[str]) -> GitIgnoreRules:
        return cls().with_lines(base, lines)

    def with_lines(self, base: str, lines: Iterable[str]) -> GitIgnoreRules:
        """These rules plus the patterns of ``lines`` (a ``.gitignore`` in ``base``)."""
        added = []
        for raw in lines:
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            if negated or line.startswith("\\"):
                line = line[1:]
            directories_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            added.append(_Rule(base, re.compile(glob_regex(line)), negated, directories_only))
        return GitIgnoreRules((*self.rules, *added))

    def extended_by(self, gitignore: Path, base: str) -> GitIgnoreRules:
        """These rules plus those of ``gitignore`` if it exists."""
        if not gitignore.is_file():
            return self
        try:
            text = gitignore.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return self
        return self.with_lines(base, text.splitlines())

    def ignores(self, path: str, *, is_dir: bool) -> bool:
        """Whether ``path`` (relative to the root) is ignored: the last matching rule says."""
        ignored = False
        for rule in self.rules:
            if rule.directories_only and not is_dir:
                continue
            if not path.startswith(rule.base):
                continue
            if rule.regex.fullmatch(path[len(rule.base):]):
                ignored = not rule.negated
        return ignored

    def covers(self, path: str) -> bool:
        """Whether the file ``path`` or a directory above it is matched (for patterns that
        name files to include rather than to ignore)."""
        parts = path.split("/")
        return self.ignores(path, is_dir=False) or any(
            self.ignores("/".join(parts[:i]), is_dir=True) for i in range(1, len(parts)))
