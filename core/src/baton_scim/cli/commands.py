"""Subcommands: each module registers its own on the shared app."""

from . import (
    providers,  # noqa: F401
    provision,  # noqa: F401
)
