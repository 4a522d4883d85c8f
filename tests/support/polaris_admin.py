"""Polaris' management API for tests that need more than the stack's bootstrap: principals,
principal roles, catalogs, catalog roles and grants, each deleted again on exit (last made,
first deleted), so a test leaves Polaris as it found it.

Built on the bootstrap's own HTTP helper (``floe_testing.stack.polaris_bootstrap.http``);
paths and bodies follow ``spec/polaris-management-service.yml``.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.stack import polaris_bootstrap as pb


class PolarisCallError(AssertionError):
    """A management call answered other than expected (the test's own setup failed)."""


@dataclass
class PolarisAdmin:
    """Management calls as the principal of ``config`` (the stack's root), undone on exit."""

    config: PolarisConfig
    undo: list[Callable[[], Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = self.config.uri.rstrip("/").removesuffix("/api/catalog")
        assert self.config.credential is not None, "the stack's credential is needed"
        client_id, _, secret = self.config.credential.get_secret_value().partition(":")
        self.admin = pb.PolarisAdmin(self.base, self.config.realm or "")
        self.admin.get_token(client_id, secret, self.config.scope)

    def __enter__(self) -> PolarisAdmin:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        problems = []
        for step in reversed(self.undo):
            try:
                step()
            except Exception as exc:  # every step is tried; all failures are reported
                problems.append(f"{exc}")
        self.undo.clear()
        if problems and kind is None:
            raise PolarisCallError("cleanup of the test's Polaris entities failed:\n"
                                   + "\n".join(problems))

    def call(self, method: str, path: str, payload: Any | None = None,
             expect: tuple[int, ...] = (200, 201, 204)) -> pb.Reply:
        """One management call; an unexpected status fails the test naming it."""
        body = None if payload is None else json.dumps(payload).encode()
        reply = pb.http(method, f"{self.base}{pb.MANAGEMENT_PATH}{path}",
                        headers=self.admin._headers("application/json"), body=body,
                        timeout=30)
        if reply.status not in expect:
            shown = "(a principal's credentials)" if "credentials" in str(reply.body) \
                else reply.body
            raise PolarisCallError(f"{method} {path} answered {reply.status}: {shown}")
        return reply

    def create_principal(self, name: str) -> str:
        """A principal without roles; its ``client_id:client_secret``."""
        reply = self.call("POST", "/principals", {"principal": {"name": name}})
        self.undo.append(lambda: self.call("DELETE", f"/principals/{_seg(name)}"))
        credentials = reply.body["credentials"]
        return f"{credentials['clientId']}:{credentials['clientSecret']}"

    def create_principal_role(self, name: str, *, principal: str) -> None:
        """A principal role, assigned to ``principal``."""
        self.call("POST", "/principal-roles", {"principalRole": {"name": name}})
        self.undo.append(lambda: self.call("DELETE", f"/principal-roles/{_seg(name)}"))
        self.call("PUT", f"/principals/{_seg(principal)}/principal-roles",
                  {"principalRole": {"name": name}})

    def create_catalog(self, definition: dict[str, Any]) -> pb.Reply:
        """A catalog (deleted on exit once empty)."""
        reply = self.call("POST", "/catalogs", {"catalog": definition})
        name = definition["name"]
        self.undo.append(lambda: self.call("DELETE", f"/catalogs/{_seg(name)}"))
        return reply

    def grant(self, catalog: str, role: str, privilege: str, *, principal_role: str) -> None:
        """A catalog role of ``catalog`` holding ``privilege``, assigned to the principal
        role (the role is created when new)."""
        path = f"/catalogs/{_seg(catalog)}/catalog-roles"
        created = self.call("POST", path, {"catalogRole": {"name": role}}, expect=(201, 409))
        if created.status == 201:
            self.undo.append(lambda: self.call("DELETE", f"{path}/{_seg(role)}"))
        self.call("PUT", f"{path}/{_seg(role)}/grants",
                  {"grant": {"type": "catalog", "privilege": privilege}})
        self.call("PUT", f"/principal-roles/{_seg(principal_role)}/catalog-roles/"
                         f"{_seg(catalog)}", {"catalogRole": {"name": role}})


def _seg(name: str) -> str:
    return urllib.parse.quote(name, safe="")
