"""What a provider is: its registration, its run context and its credentials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from .config import ProviderConfig, parse_config
from .errors import ConfigError

if TYPE_CHECKING:
    import pluggy

    from .mapping import Mapper


@dataclass(frozen=True)
class Credentials:
    """Every credential the command line or environment gave; secrets hidden."""

    token: SecretStr | None = None
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    account_id: str | None = None

    def secrets(self) -> list[str]:
        """The secret values, for log redaction."""
        values = (self.token, self.api_key, self.password, self.client_secret)
        return [v.get_secret_value() for v in values if v and v.get_secret_value()]

    def given(self) -> list[str]:
        """The flag names of the credentials that were given."""
        names = {
            "--token": self.token,
            "--api-key": self.api_key,
            "--username": self.username,
            "--password": self.password,
            "--scim-client-id": self.client_id,
            "--scim-client-secret": self.client_secret,
            "--account-id": self.account_id,
        }
        return [name for name, value in names.items() if value]


@dataclass(frozen=True)
class DescriptionRequest:
    """What a provider needs to produce its description for a run."""

    scim_config: Path | None = None


DescriptionLoader = Callable[[DescriptionRequest], tuple[str, str]]


@dataclass(frozen=True)
class Provider:
    """One provider a plugin offers.

    ``load_description`` returns the YAML text of the provider description
    and a name for it used in error messages (a file path, or
    ``package:resource``). ``hooks`` is an object or module holding the
    provider's hook implementations; it is registered only when this
    provider runs.
    """

    name: str
    description: str
    load_description: DescriptionLoader
    source: str
    hooks: object | None = None
    package: str = ""
    version: str = ""
    needs_scim_config: bool = False

    def config(
        self, request: DescriptionRequest, overrides: dict[str, Any] | None = None
    ) -> ProviderConfig:
        """Load and validate this provider's description."""
        text, source = self.load_description(request)
        return parse_config(text, source=source, overrides=overrides)


def read_package_description(package: str, resource: str) -> DescriptionLoader:
    """A loader for a description shipped as package data."""

    def load(request: DescriptionRequest) -> tuple[str, str]:
        from importlib.resources import files

        return files(package).joinpath(resource).read_text("utf-8"), resource

    return load


def read_file_description(request: DescriptionRequest) -> tuple[str, str]:
    """The loader of custom descriptions: the file named by --scim-config."""
    if request.scim_config is None:
        raise ConfigError(
            "no provider description file was given",
            hint="pass --scim-config FILE or set BATON_SCIM_CONFIG",
        )
    path = request.scim_config
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the file: {exc.strerror or exc}",
            hint="check the --scim-config path",
        ) from None


@dataclass
class ListPage:
    """One ListResponse: its resources and the paging fields it carried."""

    resources: list[dict[str, Any]]
    total_results: int | None = None
    start_index: int | None = None
    items_per_page: int | None = None
    next_cursor: str | None = None


@dataclass
class ProviderContext:
    """Everything hooks may need during one run of one provider."""

    provider: Provider
    config: ProviderConfig
    credentials: Credentials = field(default_factory=Credentials)
    hooks: pluggy.HookRelay | None = None
    options: dict[str, Any] = field(default_factory=dict)
    _mapper: Mapper | None = None

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def mapper(self) -> Mapper:
        """The description's JSONPaths, compiled once."""
        if self._mapper is None:
            from .mapping import Mapper

            self._mapper = Mapper(self.config)
        return self._mapper

    @property
    def hook(self) -> pluggy.HookRelay:
        if self.hooks is None:
            raise RuntimeError("the provider context has no hooks registered")
        return self.hooks
