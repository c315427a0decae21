"""The ``baton-scim`` command: the only place that prints."""

from .app import app, main

__all__ = ["app", "main"]
