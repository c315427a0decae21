"""Every error baton-scim raises on purpose.

The CLI turns these into one line and an exit code; nothing else catches
them broadly. Each error says what went wrong and, in ``hint``, what to do.

    BatonScimError
    ├── ConfigError            a provider description, flag or variable is wrong
    │   ├── ProviderNotFound   no installed plugin offers the provider
    │   ├── CredentialsError   the credentials do not fit the auth type
    │   └── ProvisioningRefused    a grant or revoke refused before any request
    ├── PluginError            a plugin misbehaves (two claim one name, ...)
    ├── ServiceError           the SCIM service answered with an error status
    │   └── AuthenticationFailed   401 / 403
    ├── TransportError         no answer: unreachable, timed out, dropped
    ├── ProtocolError          an answer we cannot use: bad JSON, bad paging
    ├── ProvisioningError      a grant or revoke that cannot be carried out
    ├── C1zError               the c1z file cannot be read or written
    └── Interrupted            SIGINT / SIGTERM stopped the run
"""

from __future__ import annotations

import signal


class BatonScimError(Exception):
    """Base of every error raised on purpose; ``hint`` says what to do."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(BatonScimError):
    """A provider description, a flag or an environment variable is wrong."""

    exit_code = 2


class ProviderNotFound(ConfigError):
    """No installed plugin offers the requested provider."""


class CredentialsError(ConfigError):
    """The credentials given do not fit the provider's auth type."""


class ProvisioningRefused(ConfigError):
    """A grant or revoke refused before any change: no -p, no shape, unknown ID."""


class PluginError(BatonScimError):
    """A plugin is broken or two plugins claim the same provider name."""


class ServiceError(BatonScimError):
    """The SCIM service answered a request with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request: str,
        detail: str | None = None,
        scim_type: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.request = request
        self.detail = detail
        self.scim_type = scim_type


class AuthenticationFailed(ServiceError):
    """The service refused the credentials (401) or the permission (403)."""


class TransportError(BatonScimError):
    """The service could not be reached, timed out or dropped the connection."""


class ProtocolError(BatonScimError):
    """The service answered something we cannot use (bad JSON, endless paging)."""


class ProvisioningError(BatonScimError):
    """A grant or revoke that cannot be carried out as asked."""


class C1zError(BatonScimError):
    """The c1z file cannot be read or written."""


SYNC_INTERRUPTED = (
    "run it again; an interrupted sync leaves the previous file as it was"
)


class Interrupted(BatonScimError):
    """A signal stopped the run; the exit code follows the shell convention."""

    def __init__(self, signum: int, hint: str | None = None) -> None:
        super().__init__(
            f"interrupted by {_signal_name(signum)}",
            hint=hint or SYNC_INTERRUPTED,
        )
        self.exit_code = 128 + signum


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
