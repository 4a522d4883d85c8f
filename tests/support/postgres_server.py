"""A throw-away PostgreSQL 15 server from the Debian packages, with a password-checked role.

The cluster is created in a fresh temp dir owned by ``postgres`` (root cannot run ``initdb``),
listens on 127.0.0.1 only, and uses SCRAM for every connection so a wrong password fails for
real. :meth:`LocalPostgres.stop` is idempotent and removes the directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

from support.processes import free_port

#: Where Debian's ``postgresql-15`` package puts the server binaries; env can point elsewhere.
DEFAULT_BINDIR = "/usr/lib/postgresql/15/bin"
BINDIR_ENV = "FLOE_IT_PG_BINDIR"


class PostgresSetupError(RuntimeError):
    """The local server could not be set up; the message says what to install or check."""


def postgres_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``, or an error saying how to get them."""
    bindir = Path(os.environ.get(BINDIR_ENV, DEFAULT_BINDIR))
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (bindir / name).is_file()]
    if missing:
        raise PostgresSetupError(
            f"PostgreSQL server binaries {missing} not found in {bindir}. The integration tier "
            "starts a real local PostgreSQL 15: install it with `apt-get install postgresql-15` "
            f"or set {BINDIR_ENV} to the directory that holds initdb and pg_ctl."
        )
    return bindir


@dataclass
class LocalPostgres:
    """One PostgreSQL server; after :meth:`start`, ``user``/``password`` can create databases."""

    user: str = "test"
    database: str = "test"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    superuser_password: str = field(
        default_factory=lambda: secrets.token_urlsafe(16), repr=False
    )
    host: str = "127.0.0.1"
    port: int = 0
    base: Path | None = None
    _started: bool = field(default=False, init=False, repr=False)

    @property
    def data_dir(self) -> Path:
        assert self.base is not None, "start() first"
        return self.base / "data"

    def _as_postgres(self, *argv: str) -> list[str]:
        """Run as the ``postgres`` OS user when we are root (initdb refuses to run as root)."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return list(argv)

    def _run(self, argv: list[str], what: str, timeout: float = 60.0) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = ""
            if self.base is not None and (self.base / "server.log").exists():
                log = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresSetupError(
                f"{what} failed (exit {done.returncode}): {' '.join(argv)}\n"
                f"{done.stdout}{done.stderr}{log}"
            )

    def start(self) -> None:
        """initdb, start on a free port, create the role and its database."""
        bindir = postgres_bindir()
        self.base = Path(tempfile.mkdtemp(prefix="floe-it-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.superuser_password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        self._run(
            self._as_postgres(
                str(bindir / "initdb"), "-D", str(self.data_dir), "--username=postgres",
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--no-sync", "--no-instructions",
                "--encoding=UTF8", "--locale=C",
            ),
            "initdb",
        )
        pwfile.unlink()
        for attempt in range(3):
            self.port = free_port(self.host)
            try:
                self._run(
                    self._as_postgres(
                        str(bindir / "pg_ctl"), "-D", str(self.data_dir),
                        "-l", str(self.base / "server.log"), "-w", "-t", "60", "start", "-o",
                        f"-p {self.port} -k {self.base} -c listen_addresses={self.host} "
                        "-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
                    ),
                    "pg_ctl start",
                    timeout=90.0,
                )
                self._started = True
                break
            except PostgresSetupError:
                if attempt == 2:
                    raise
        self._create_role()

    def _create_role(self) -> None:
        conn = self.admin_connect()
        try:
            conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD %s").format(
                        sql.Identifier(self.user)
                    ),
                    (self.password,),
                )
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(self.database), sql.Identifier(self.user)
                    )
                )
        finally:
            conn.close()

    def admin_connect(self, database: str = "postgres") -> psycopg2.extensions.connection:
        """A superuser connection (independent of the fixtures, for checking their effects)."""
        return psycopg2.connect(
            host=self.host, port=self.port, user="postgres", password=self.superuser_password,
            dbname=database, connect_timeout=10,
        )

    def database_exists(self, name: str) -> bool:
        """Whether a database called ``name`` exists on the server."""
        conn = self.admin_connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                return cur.fetchone() is not None
        finally:
            conn.close()

    def stop(self) -> None:
        """Fast shutdown (kill if that fails) and remove the data directory. Idempotent."""
        if self.base is None:
            return
        try:
            if self._started:
                bindir = postgres_bindir()
                try:
                    self._run(
                        self._as_postgres(
                            str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                            "-w", "-t", "30", "stop",
                        ),
                        "pg_ctl stop",
                    )
                except (PostgresSetupError, subprocess.TimeoutExpired):
                    self._kill_postmaster()
                self._started = False
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def _kill_postmaster(self) -> None:
        """Last resort: SIGKILL the postmaster named in ``postmaster.pid``; children follow."""
        pidfile = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(pidfile.read_text().splitlines()[0]), signal.SIGKILL)
