"""The last line of defence for secrets: every value this run knows to be secret is removed
from test reports (terminal, ``--junitxml``, every traceback style, ``-l`` locals, captured
output) and from log records before any handler writes them.

Secrets are ``SecretStr`` everywhere in the plugin and never passed to a local a traceback
would show, but tracebacks also run through client libraries (pyiceberg keeps the credential
in its properties, minio its keys) and through users' own ``*_config`` overrides. So the run
collects the secret values it meets, from the service env vars, from every config a fixture
returns (users' overrides included) and from the cluster's Secrets, and replaces each, also
URL- and base64-encoded, with ``***`` wherever a report or log record would carry it.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

MASK = "***"
#: Shorter values would mask ordinary words; no secret of the stack is that short.
MIN_LENGTH = 6
#: Keys of a Kubernetes Secret whose values are secret (user names, bucket or catalog names
#: in the same Secret are not: masking "test" or "root" would garble every report)
SECRET_KEY_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE", re.IGNORECASE)


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    encoded = base64.b64encode(raw).decode()
    forms |= {encoded, encoded.rstrip("="), base64.urlsafe_b64encode(raw).decode()}
    return {f for f in forms if len(f) >= MIN_LENGTH}


class SecretValues:
    """The secret values of one run and their redaction (kept in ``config.stash``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: list[str] = []  # longest first, so a value is masked before its parts

    def add(self, *values: str | None) -> None:
        """Remember these values (and their encoded forms) as secret."""
        new = {form for value in values if value and len(value) >= MIN_LENGTH
               for form in _forms(value)}
        with self._lock:
            if new - set(self._forms):
                self._forms = sorted(set(self._forms) | new, key=len, reverse=True)

    def add_settings(self, settings: Any) -> None:
        """Every ``SecretStr`` of a service config; of a ``client:secret`` credential also the
        secret part."""
        from pydantic import SecretStr

        for name in type(settings).model_fields:
            value = getattr(settings, name, None)
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                self.add(secret, secret.partition(":")[2])

    def add_secret_data(self, data: dict[str, str]) -> None:
        """The secret values of a Kubernetes Secret's data (by key name)."""
        self.add(*(value for key, value in data.items() if SECRET_KEY_NAMES.search(key)))

    def add_env(self, names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        """The values of these env vars (a declared service's secrets, named without
        importing pydantic: this runs on every pytest run); of a ``client:secret`` credential
        also the secret part."""
        env = os.environ if environ is None else environ
        for name in names:
            value = env.get(name)
            if value:
                self.add(value, value.partition(":")[2])

    def redact(self, text: str) -> str:
        """``text`` with every known secret form replaced by ``***``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def contained_in(self, text: str) -> bool:
        return any(form in text for form in self._forms)

    def redact_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        """Mask secrets in a report's failure text and captured sections, in place. The
        failure representation becomes plain text only when it holds a secret."""
        if report.longrepr is not None and not isinstance(report.longrepr, tuple):
            text = str(report.longrepr)
            if self.contained_in(text):
                report.longrepr = self.redact(text)
        elif isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
            path, line, reason = report.longrepr
            report.longrepr = (path, line, self.redact(reason))
        report.sections = [(title, self.redact(content)) for title, content in report.sections]


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's message (and formatted exception) before it is
    written; attached to pytest's logging handlers."""

    def __init__(self, secrets: SecretValues) -> None:
        super().__init__("floe-testing-redaction")
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secrets.contained_in(message):
            record.msg, record.args = self.secrets.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.secrets.contained_in(record.exc_text):
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

