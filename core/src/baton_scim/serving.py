"""A local HTTP server answering from a daemon thread until stopped.

The demo serves its SCIM directory this way, and so do the test suite's
servers; each builds its own ``socketserver`` server and hands it here.
"""

from __future__ import annotations

import socketserver
import threading


class Background:
    """Serves ``server`` on a daemon thread from construction until ``stop()``."""

    def __init__(self, server: socketserver.BaseServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        address = self.server.server_address
        assert isinstance(address, tuple)
        return int(address[1])

    def stop(self) -> None:
        """Stop serving, free the port and wait for the thread to end."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
