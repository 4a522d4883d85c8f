"""Every setting's one precedence: command line > ini > env > default, written once.

A setting may be given three ways: a command-line option, an ini key and an env var. A single
value comes from the first of them that is given; a list either adds up (each way contributes:
``--floe-extra-manifests``) or is replaced by the more specific way (``--traceability-spec``
replaces the ini's). Each value keeps where it came from, so an error names it (``env
FLOE_SHARDS: 'x' is not a whole number``). Imported on every run: stdlib and pytest only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import pytest

from floe_testing.errors import ConfigError

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Setting(NamedTuple):  # a NamedTuple: built on every run, and cheaper than a dataclass
    """One setting and the ways it can be given (any of them may be absent)."""

    option: str = ""  # "--floe-shards" ("": none)
    ini: str = ""
    env: str = ""
    #: the option's destination, when it is not the option's name (``--floe-load-image``:
    #: ``floe_load_images``)
    option_dest: str = ""

    @property
    def dest(self) -> str | None:
        if self.option_dest:
            return self.option_dest
        return self.option.lstrip("-").replace("-", "_") if self.option else None

    def describe(self) -> str:
        """``--floe-shards (ini floe_shards, env FLOE_SHARDS)``, for messages."""
        others = [w for w in (f"ini {self.ini}" if self.ini else "",
                              f"env {self.env}" if self.env else "") if w]
        head = self.option or (others.pop(0) if others else "")
        return head + (f" ({', '.join(others)})" if others else "")


class Given(NamedTuple):
    """A value and where it was given (``--floe-shards``, ``ini floe_shards``, ``env X``)."""

    value: Any
    source: str


def _unset(value: object) -> bool:
    return value is None or value is False or value in ("", [])


def _option(config: pytest.Config, setting: Setting) -> object:
    if setting.dest is None:
        return None
    try:
        return config.getoption(setting.dest)
    except ValueError:  # not registered in this run (an optional plugin's option)
        return None


def first_given(config: pytest.Config, setting: Setting) -> Given | None:
    """The value of the first way that gives one: command line, ini, env."""
    value = _option(config, setting)
    if not _unset(value):
        return Given(value, setting.option)
    if setting.ini:
        value = config.getini(setting.ini)
        if not _unset(value):
            return Given(value, f"ini {setting.ini}")
    if setting.env and setting.env in os.environ:
        return Given(os.environ[setting.env], f"env {setting.env}")
    return None


def every_given(config: pytest.Config, setting: Setting, env_separator: str = os.pathsep,
                *, replace: bool = False) -> list[Given]:
    """Every entry of a list setting, each with its source: env (split on ``env_separator``),
    then ini lines, then command-line entries, all adding up; with ``replace`` the first way
    that gives any (command line, ini, env) is taken alone."""
    ways: list[list[Given]] = []
    option = _option(config, setting)
    ways.append([Given(str(e).strip(), setting.option)
                 for e in (option if isinstance(option, list) else []) if str(e).strip()])
    if setting.ini:
        ways.append([Given(e if not isinstance(e, str) else e.strip(), f"ini {setting.ini}")
                     for e in config.getini(setting.ini) or [] if str(e).strip()])
    if setting.env:
        ways.append([Given(e.strip(), f"env {setting.env}")
                     for e in os.environ.get(setting.env, "").split(env_separator)
                     if e.strip()])
    if replace:
        return next((way for way in ways if way), [])
    return [given for way in reversed(ways) for given in way]


def resolved(config: pytest.Config, setting: Setting, parse: Callable[[Given], T],
             default: T) -> T:
    """The first given value, parsed (a parse error names its source), else ``default``."""
    given = first_given(config, setting)
    return default if given is None else parse(given)


# -- parsers: each raises ConfigError naming the source ----------------------------------------


def as_flag(given: Given) -> bool:
    if isinstance(given.value, bool):
        return given.value
    text = str(given.value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{given.source}: {given.value!r} is not a yes/no value; use true or false")


def as_text(given: Given) -> str:
    return str(given.value).strip()


def positive_number(what: str, *, integer: bool = False,
                    minimum: float = 0.0) -> Callable[[Given], float]:
    """A parser of numbers above ``minimum`` (at least 1 for whole numbers)."""
    def parse(given: Given) -> float:
        try:
            number = int(str(given.value)) if integer else float(str(given.value))
        except ValueError:
            raise ConfigError(f"{given.source}: {given.value!r} is not {what}") from None
        if (integer and number < 1) or number <= minimum:
            bound = ("at least 1" if integer else "positive" if minimum == 0
                     else f"more than {minimum:g}")
            raise ConfigError(f"{given.source}: {given.value!r} must be {bound}")
        return number
    return parse
