"""Subcommands: each module registers its own on the shared app."""

from . import (  # noqa: F401
    check,
    demo,
    inspect,
    providers,
    provision,
)
