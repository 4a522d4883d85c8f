"""An in-process S3 endpoint (moto's server) that the ``minio`` client talks to.

No MinIO server is installable here; moto serves the S3 API the fixtures use (bucket ops,
multipart, list, stat, remove). It keeps data in memory and accepts any credentials.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from moto.server import ThreadedMotoServer


@dataclass
class LocalS3:
    """One moto server on a free 127.0.0.1 port; ``endpoint`` is what MINIO_ENDPOINT gets."""

    access_key: str = "floe-it-access"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    _server: ThreadedMotoServer | None = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind port 0 (the OS picks a free port, no race) and serve in a daemon thread."""
        self._server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    def stop(self) -> None:
        """Shut the server down and join its thread. Idempotent."""
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()
