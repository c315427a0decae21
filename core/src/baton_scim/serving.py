"""A local HTTP server answering from a daemon thread until stopped.

The demo serves its SCIM directory this way, and so do the test suite's
servers: each subclasses ``Served`` and builds its own ``socketserver``
server in ``listen()``; ``Served`` starts, stops and names it.
"""

from __future__ import annotations

import socketserver
import threading
from typing import Self


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


class Served:
    """The life cycle of a server object: a context manager serving in a thread.

    Subclasses say how to listen (``listen()`` returns the server, bound to
    a free port, and a thread name); ``start()`` serves it in the background
    and ``stop()`` frees the port. ``port`` is known only while serving.
    """

    _serving: Background | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def listen(self) -> tuple[socketserver.BaseServer, str]:
        """The server to serve, bound to its port, and its thread's name."""
        raise NotImplementedError

    def start(self) -> Self:
        """Listen on a free port and serve from a daemon thread."""
        server, name = self.listen()
        self._serving = Background(server, name)
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._serving is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._serving.port
