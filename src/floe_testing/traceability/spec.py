"""Reading requirement IDs out of spec Markdown files.

Coverage is only meaningful against what the spec demands: without a spec, a requirement no test
mentions is invisible. Spec files are plain Markdown; any word in them that *wholly* matches the
configured ID pattern counts as a requirement the spec defines (``- **001-FR-040**: ...``,
tables, headings alike). Words that merely resemble an ID (``001-SC-001`` under the default
``FR`` pattern, ``001-FR-04``) are ignored, so success criteria and prose do not inflate the
total.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Candidate words: runs of characters that can appear in an ID. Trailing punctuation such as
# "." at the end of a sentence or ":" after a bold ID is stripped before matching.
_WORD = re.compile(r"[\w.:/-]+")
_EDGE_PUNCT = ".:/-"
_SUBWORD_SPLIT = re.compile(r"[.:/]")


class SpecError(ValueError):
    """A spec path is missing, unreadable or defines no requirement ID at all."""


@dataclass(frozen=True)
class Spec:
    """The requirement IDs defined by a set of spec files, and where they came from."""

    files: tuple[Path, ...]
    requirement_ids: frozenset[str]


def expand_spec_paths(paths: Iterable[Path]) -> list[Path]:
    """Resolve spec arguments to Markdown files: files as given, directories searched for ``*.md``.

    A missing path or a directory without Markdown is an error rather than an empty spec,
    because an empty spec would make every claimed ID "unknown" and hide the real mistake.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.md") if p.is_file())
            if not found:
                raise SpecError(f"traceability spec directory {path} contains no *.md file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise SpecError(f"traceability spec {path} does not exist")
    unique: list[Path] = []
    for file in files:
        if file not in unique:
            unique.append(file)
    return unique


def extract_ids(text: str, pattern: re.Pattern[str]) -> set[str]:
    """All words of ``text`` that wholly match ``pattern``.

    Whole-word matching (rather than searching for the pattern inside the text) keeps
    ``001-FR-0401`` from yielding ``001-FR-040``. A word that does not match as a whole is
    also tried split on ``.``/``:``/``/`` so ``001-FR-040/001-FR-041`` yields both.
    """
    found: set[str] = set()
    for match in _WORD.finditer(text):
        word = match.group().strip(_EDGE_PUNCT)
        if not word:
            continue
        if pattern.fullmatch(word):
            found.add(word)
            continue
        for raw_part in _SUBWORD_SPLIT.split(word):
            part = raw_part.strip(_EDGE_PUNCT)
            if part and pattern.fullmatch(part):
                found.add(part)
    return found


def load_spec(paths: Iterable[Path], pattern: re.Pattern[str]) -> Spec:
    """Read every spec file and collect the requirement IDs they define.

    Raises :class:`SpecError` when the files define no ID matching ``pattern``: that is almost
    always a wrong path or a ``requirement_id_pattern`` that does not fit the spec, and
    reporting 0 % coverage instead would send the user hunting in the wrong place.
    """
    files = expand_spec_paths(paths)
    ids: set[str] = set()
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read traceability spec {file}: {exc}") from exc
        ids |= extract_ids(text, pattern)
    if files and not ids:
        names = ", ".join(str(f) for f in files)
        raise SpecError(
            f"no requirement ID matching {pattern.pattern!r} found in traceability spec "
            f"{names} (check the path or the ini option requirement_id_pattern)"
        )
    return Spec(files=tuple(files), requirement_ids=frozenset(ids))
