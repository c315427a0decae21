"""Run settings: what the command line and the BATON_* variables say."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .provider import Credentials


@dataclass
class Settings:
    """Everything one run needs besides the provider description itself."""

    service_provider: str | None = None
    scim_config: Path | None = None
    credentials: Credentials = field(default_factory=Credentials)
    file: Path = Path("sync.c1z")
    provisioning: bool = False
    api_endpoint: str | None = None
    auth_url: str | None = None
    page_size: int | None = None
    concurrency: int | None = None
    http_timeout_seconds: float = 300.0
    run_timeout_seconds: float | None = None
    ca_bundle: Path | None = None
    max_attempts: int | None = None
    max_retry_wait_seconds: float | None = None
    max_response_mb: int | None = None
    # Test and embedding seams: an httpx transport for the SCIM service and
    # for the token endpoint (None means the network).
    transport: Any = None
    token_transport: Any = None

    def overrides(self) -> dict[str, Any]:
        """Description keys that flags replace (endpoint, token URL, paging, http)."""
        overrides: dict[str, Any] = {}
        if self.api_endpoint:
            overrides["apiEndpoint"] = self.api_endpoint
        if self.auth_url:
            overrides["auth"] = {"authUrl": self.auth_url}
        paging: dict[str, Any] = {}
        if self.page_size:
            paging["pageSize"] = self.page_size
        if self.concurrency:
            paging["concurrency"] = self.concurrency
        if paging:
            overrides["pagination"] = paging
        http = self._http_overrides()
        if http:
            overrides["http"] = http
        return overrides

    def _http_overrides(self) -> dict[str, Any]:
        """Retry and size limits that flags set over the description's http."""
        flags = {
            "maxAttempts": self.max_attempts,
            "maxRetryWaitSeconds": self.max_retry_wait_seconds,
            "maxResponseMb": self.max_response_mb,
        }
        return {key: value for key, value in flags.items() if value is not None}

    @property
    def verify(self) -> Any:
        """TLS verification: on, against the named CA bundle when given."""
        if self.ca_bundle is None:
            return True
        from .auth import trust_context

        return trust_context(self.ca_bundle)
