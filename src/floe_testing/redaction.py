"""The last line of defence for secrets: every value this run knows to be secret is removed
from test reports (terminal, ``--junitxml``, every traceback style, ``-l`` locals, captured
output, xfail reasons, ``record_property`` values), from warnings, from log records before any
handler writes them, and from test ids (a parametrize id made of a secret).

Secrets are ``SecretStr`` everywhere in the plugin and never passed to a local a traceback
would show, but tracebacks also run through client libraries (pyiceberg keeps the credential
in its properties, minio its keys) and through users' own ``*_config`` overrides. So the run
collects the secret values it meets, from the service env vars, from every config a fixture
returns (users' overrides included, dicts too) and from the cluster's Secrets, and replaces
each with ``***`` wherever a report or log record would carry it: as is, URL-, base64-, JSON-,
``repr``- and XML-escaped, and in pieces. A piece is what truncation leaves (pytest cuts long
values in ``-l`` locals and assertion diffs, clients cut long messages): any
:data:`FRAGMENT_LENGTH` consecutive characters of a secret, and where a value was cut (an
ellipsis, a line's end or start) or beside a masked piece its first or last few characters
(:data:`CUT_FRAGMENT_LENGTH`). Values shorter than :data:`MIN_LENGTH` cannot be masked without
masking ordinary words: the run warns, once per value's source.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

MASK = "***"
#: Shorter values would mask ordinary words; no secret of the stack is that short.
MIN_LENGTH = 6
#: this many consecutive characters of a secret are masked wherever they show
FRAGMENT_LENGTH = 12
#: where a value was cut (an ellipsis, the end or start of a line) or another piece was
#: masked, fewer suffice: a cut leaves a secret's first characters before it, its last after it
CUT_FRAGMENT_LENGTH = {"ellipsis": 3, "line": 8}
#: Keys of a Kubernetes Secret (or of a config given as a dict) whose values are secret (user
#: names, bucket or catalog names in the same Secret are not: masking "test" or "root" would
#: garble every report)
SECRET_KEY_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE", re.IGNORECASE)


class SecretNotMaskedWarning(UserWarning):
    """A secret too short to be masked: it may show in reports as it is."""


def _forms(secret: str) -> set[str]:
    """The secret as reports may carry it: raw; URL-encoded; base64; escaped as a ``repr``,
    JSON and XML/HTML escape it (backslashes, quotes, ``&``)."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1],
             secret.replace("\\", "\\\\"), secret.encode("unicode_escape").decode(),
             secret.replace("\\", "\\\\").replace("'", "\\'"),
             secret.replace("\\", "\\\\").replace('"', '\\"'),
             html.escape(secret), html.escape(secret, quote=False),
             html.escape(secret).replace("&#x27;", "'")}
    encoded = base64.b64encode(raw).decode()
    forms |= {encoded, encoded.rstrip("="), base64.urlsafe_b64encode(raw).decode()}
    return {f for f in forms if len(f) >= MIN_LENGTH}


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, branching character by character (a
    plain alternation of hundreds of words would be tried word by word at every position)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())
                    if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class _Matcher:
    """The compiled search for one set of forms (rebuilt when a secret is added): whole forms,
    then pieces (see the module docstring)."""

    def __init__(self, forms: list[str], whole_only: frozenset[str] = frozenset()) -> None:
        #: longest first, so a value is masked before its parts
        self.forms = sorted(set(forms) | whole_only, key=len, reverse=True)
        forms = [f for f in self.forms if f not in whole_only]  # those masked in pieces too
        self.grams: dict[str, list[tuple[str, int]]] = {}
        for form in forms:
            for at in range(len(form) - FRAGMENT_LENGTH + 1):
                self.grams.setdefault(form[at:at + FRAGMENT_LENGTH], []).append((form, at))
        self.patterns: list[re.Pattern[str]] = []
        if self.grams:
            self.patterns.append(re.compile(_trie_pattern(self.grams)))
        for where, shortest in CUT_FRAGMENT_LENGTH.items():
            lengths = range(shortest, FRAGMENT_LENGTH)  # longer ones: found anywhere
            heads = _trie_pattern({f[:n] for f in forms for n in lengths if n < len(f)})
            tails = _trie_pattern({f[-n:] for f in forms for n in lengths if n < len(f)})
            if not heads:
                continue
            if where == "ellipsis":  # or the mask: what is left of a secret beside a piece
                self.patterns.append(re.compile(rf"{heads}(?=\.\.\.|\u2026|\*\*\*)"))
                self.patterns.append(re.compile(
                    rf"(?:(?<=\.\.\.)|(?<=\u2026)|(?<=\*\*\*)){tails}"))
            else:
                self.patterns.append(re.compile(f"{heads}$", re.MULTILINE))
                self.patterns.append(re.compile(f"^{tails}", re.MULTILINE))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where pieces of a secret are in ``text`` (after whole forms were masked)."""
        if not self.patterns:
            return []
        found: list[tuple[int, int]] = []
        anywhere, *at_cuts = self.patterns
        at = 0
        while (match := anywhere.search(text, at)) is not None:
            start, end = self._extend(text, match.start(), match.group())
            found.append((start, end))
            at = max(end, match.start() + 1)
        for pattern in at_cuts:
            found.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
        return found

    def _extend(self, text: str, at: int, gram: str) -> tuple[int, int]:
        """The longest run of a secret's characters around the piece ``gram`` at ``at``."""
        best = (at, at + len(gram))
        for form, offset in self.grams[gram]:
            left = 0
            while (at - left > 0 and offset - left > 0
                   and text[at - left - 1] == form[offset - left - 1]):
                left += 1
            right = 0
            end, form_end = at + len(gram), offset + len(gram)
            while (end + right < len(text) and form_end + right < len(form)
                   and text[end + right] == form[form_end + right]):
                right += 1
            if end + right - (at - left) > best[1] - best[0]:
                best = (at - left, end + right)
        return best


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (overlapping ones merged) replaced by one mask."""
    pieces: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        if start >= done:
            pieces.append(text[done:start])
            pieces.append(MASK)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


class SecretValues:
    """The secret values of one run and their redaction (kept in ``config.stash``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        #: forms masked as a whole only: a ``client:secret`` credential, whose client part is
        #: no secret (its pieces would mask the client's name)
        self._whole_only: set[str] = set()
        self._matcher = _Matcher([])
        #: sources already warned about (a short secret is reported once)
        self._warned: set[str] = set()

    def add(self, *values: str | None, source: str = "a secret", pieces: bool = True) -> None:
        """Remember these values (and their encoded forms) as secret; a value too short to be
        masked is reported once per ``source`` (what holds it: an env var, a config field) as
        a :class:`SecretNotMaskedWarning`. ``pieces=False``: masked as a whole only."""
        new: set[str] = set()
        for value in values:
            if not value:
                continue
            if len(value) < MIN_LENGTH:
                self._warn_short(source)
            else:
                new |= _forms(value)
        with self._lock:
            if pieces:
                changed = bool(new - self._forms)
                self._forms |= new
                self._whole_only -= new
            else:
                added = new - self._forms - self._whole_only
                changed = bool(added)
                self._whole_only |= added
            if changed:
                self._matcher = _Matcher(sorted(self._forms), frozenset(self._whole_only))

    def _warn_short(self, source: str) -> None:
        with self._lock:
            if source in self._warned:
                return
            self._warned.add(source)
        warnings.warn(SecretNotMaskedWarning(
            f"{source} holds a secret shorter than {MIN_LENGTH} characters: floe-testing "
            "cannot mask it in reports (masking so short a value would garble ordinary "
            f"words), so it may show as it is. Use a secret of {MIN_LENGTH} or more "
            "characters."), stacklevel=3)

    def add_credential(self, value: str | None, source: str) -> None:
        """A secret, and of a ``client:secret`` credential also the secret part."""
        if not value:
            return
        if ":" in value:  # the client part is a name: the whole is masked, only the secret
            self.add(value, source=source, pieces=False)  # also in pieces
            self.add(value.partition(":")[2], source=f"the secret part of {source}")
        else:
            self.add(value, source=source)

    def add_settings(self, settings: Any, fixture: str | None = None) -> None:
        """Every ``SecretStr`` of a service config (of a ``client:secret`` credential also the
        secret part)."""
        from pydantic import SecretStr

        where = f" (from the {fixture} fixture)" if fixture else ""
        for name in type(settings).model_fields:
            value = getattr(settings, name, None)
            if isinstance(value, SecretStr):
                self.add_credential(value.get_secret_value(),
                                    f"{type(settings).__name__}.{name}{where}")

    def add_mapping(self, values: Mapping[Any, Any], source: str) -> None:
        """The values under secret-looking keys of a config given as a dict (a ``*_config``
        override returning one), ``SecretStr`` or plain."""
        for key, value in values.items():
            if not SECRET_KEY_NAMES.search(str(key)):
                continue
            reveal = getattr(value, "get_secret_value", None)
            text: object = reveal() if callable(reveal) else value
            if isinstance(text, str):
                self.add_credential(text, f"{source} key {key!r}")

    def add_secret_data(self, data: dict[str, str]) -> None:
        """The secret values of a Kubernetes Secret's data (by key name)."""
        for key, value in data.items():
            if SECRET_KEY_NAMES.search(key):
                self.add(value, source=f"the key {key} of a cluster Secret")

    def add_env(self, names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        """The values of these env vars (a declared service's secrets, named without
        importing pydantic: this runs on every pytest run); of a ``client:secret`` credential
        also the secret part."""
        env = os.environ if environ is None else environ
        for name in names:
            self.add_credential(env.get(name), f"env {name}")

    def redact(self, text: str) -> str:
        """``text`` with every known secret form, and every piece of one, replaced by
        ``***`` (pieces beside a masked piece too: a form no rule knows, cut in two)."""
        matcher = self._matcher
        for form in matcher.forms:
            if form in text:
                text = text.replace(form, MASK)
        for _ in range(3):
            spans = matcher.spans(text)
            if not spans:
                break
            text = _masked(text, spans)
        return text

    def contained_in(self, text: str) -> bool:
        """True when ``text`` holds a secret or a piece of one."""
        return self.redact(text) != text

    def redact_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        """Mask secrets in a report's failure text, captured sections, xfail reason and
        ``record_property`` values, in place. The failure representation becomes plain text
        only when it holds a secret."""
        if report.longrepr is not None and not isinstance(report.longrepr, tuple):
            text = str(report.longrepr)
            redacted = self.redact(text)
            if redacted != text:
                report.longrepr = redacted
        elif isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
            path, line, reason = report.longrepr
            report.longrepr = (path, line, self.redact(reason))
        report.sections = [(title, self.redact(content)) for title, content in report.sections]
        xfail_reason = getattr(report, "wasxfail", None)
        if isinstance(xfail_reason, str):
            setattr(report, "wasxfail", self.redact(xfail_reason))  # noqa: B010 - not typed
        if isinstance(report, pytest.TestReport) and report.user_properties:
            report.user_properties = [(name, self._redacted_value(value))
                                      for name, value in report.user_properties]

    def _redacted_value(self, value: object) -> object:
        """A property's value, as text when it held a secret (JUnit writes ``str(value)``)."""
        text = str(value)
        redacted = self.redact(text)
        return value if redacted == text else redacted

    def redact_warning(self, message: warnings.WarningMessage) -> None:
        """Mask secrets in a recorded warning's message, in place (the warnings summary)."""
        text = str(message.message)
        redacted = self.redact(text)
        if redacted == text:
            return
        try:
            masked: Warning = message.category(redacted)
        except Exception:  # noqa: BLE001 - a warning class with other arguments
            masked = UserWarning(redacted)
        if str(masked) != redacted:
            masked = UserWarning(redacted)
        message.message = masked

    def masked_tests(self, collector: pytest.Collector, made: object) -> object:
        """What ``pytest_pycollect_makeitem`` made, with every parametrized test whose ids
        hold a secret made again under masked ids, before anything shows its name: the
        terminal, JUnit and the traceability report take their test ids from it. Ids made
        equal by masking get a number, as pytest numbers equal ids (``[***0]``, ``[***1]``).
        Any other answer is returned as it is."""
        if not isinstance(made, list) or not self._matcher.forms:
            return made
        masked: list[list[str] | None] = []
        for item in made:
            given = [str(i) for i in getattr(getattr(item, "callspec", None), "_idlist", ())]
            hidden = [self.redact(i) for i in given]
            masked.append(hidden if hidden != given and isinstance(item, pytest.Function)
                          else None)
        if not any(masked):
            return made
        taken = {item.name for item, hidden in zip(made, masked, strict=True) if not hidden}
        result = []
        for item, ids in zip(made, masked, strict=True):
            if ids is None:
                result.append(item)
                continue
            last, number = ids[-1], 0
            while f"{item.originalname}[{'-'.join(ids)}]" in taken:
                ids[-1] = f"{last}{number}"
                number += 1
            name = f"{item.originalname}[{'-'.join(ids)}]"
            taken.add(name)
            result.append(_made_again(collector, item, name, ids))
        return result


def _made_again(collector: pytest.Collector, item: pytest.Function, name: str,
                ids: list[str]) -> pytest.Function:
    """``item`` under another name and ids, made as pytest makes a parametrized test (its
    node id derives from them when it is made: pytest has no API to rename a test)."""
    callspec = dataclasses.replace(item.callspec, _idlist=ids)
    return type(item).from_parent(
        collector, name=name, callspec=callspec, keywords={callspec.id: True},
        fixtureinfo=item._fixtureinfo, originalname=item.originalname)


class SecretWarnings:
    """Plugin object of the run: no known secret in the warnings summary (the terminal
    reporter keeps each recorded warning's text; this runs before it), and the secrets that
    cannot be masked said there (those of env vars are found at configure, when pytest does
    not record warnings yet: they are issued at collection)."""

    def __init__(self, secrets: SecretValues, unmaskable: list[str]) -> None:
        self.secrets = secrets
        self.unmaskable = unmaskable

    def pytest_collection(self) -> None:
        for message in self.unmaskable:
            warnings.warn_explicit(message, SecretNotMaskedWarning, "floe-testing", 0)
        self.unmaskable = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        self.secrets.redact_warning(warning_message)


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's message (and formatted exception) before it is
    written; attached to pytest's logging handlers."""

    def __init__(self, secrets: SecretValues) -> None:
        super().__init__("floe-testing-redaction")
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.secrets.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.secrets.redact(record.exc_text)
        return True


#: the run's known secrets, in ``config.stash``
SECRET_VALUES = pytest.StashKey["SecretValues"]()


def attach_to_logging(config: pytest.Config, secrets: SecretValues) -> None:
    """Put the filter on every handler pytest's logging plugin writes through."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None:
        return
    redacting = RedactingFilter(secrets)
    for attr in ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler"):
        handler = getattr(plugin, attr, None)
        if isinstance(handler, logging.Handler):
            handler.addFilter(redacting)
