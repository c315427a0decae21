"""The provider description: the YAML schema of the guide, as pydantic models.

A provider description says where a SCIM service lives, how to authenticate,
where each attribute sits in its JSON (JSONPath) and how to send provisioning
requests. Built-in providers ship one as package data; custom services pass
one with ``--scim-config``. Keys are camelCase, as in the guide; unknown keys
are refused with the closest valid name.

Keys beyond the guide (all optional) are marked "extension" below; each
exists because a real provider needs it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from .errors import ConfigError

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Model(BaseModel):
    """Base of every description model: camelCase keys, no unknown keys."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class TokenRequest(Model):
    """Extension: how the client-credentials token request is shaped."""

    style: Literal["form", "json", "query"] = Field(
        "form", description="form body (RFC 6749), JSON body, or query string"
    )
    grant_type: str = "client_credentials"
    client_auth: Literal["basic", "body"] = Field(
        "basic", description="client id and secret as Basic auth or in the body"
    )
    account_id_param: str | None = Field(
        None, description="parameter carrying --account-id (Zoom: account_id)"
    )
    scope: str | None = None


class AuthConfig(Model):
    """How requests authenticate (guide: auth)."""

    auth_type: Literal["oauth2", "apiKey", "basic"]
    api_key_prefix: str | None = None
    should_obtain_token: bool = False
    auth_url: str | None = None
    token_path: str | None = None
    token_request: TokenRequest = TokenRequest()

    @model_validator(mode="after")
    def _token_fields(self) -> AuthConfig:
        if self.should_obtain_token and not self.auth_url:
            raise ValueError("authUrl: required when shouldObtainToken is true")
        if self.should_obtain_token and not self.token_path:
            raise ValueError("tokenPath: required when shouldObtainToken is true")
        return self


class UserGroupMapping(Model):
    """Groups listed on the user object (guide: user.userGroup)."""

    path: str
    name: str
    id: str | None = None


class RoleMapping(Model):
    """Roles listed on the user object (guide: user.roles)."""

    path: str
    name: str
    display: str | None = None
    type: str | None = Field(None, description="extension: role type (Miro)")


class UserMapping(Model):
    """Where each user attribute sits (guide: user)."""

    id: str
    user_name: str
    first_name: str
    last_name: str
    primary_email: str
    first_email: str | None = None
    active: str
    display_name: str | None = Field(
        None, description="used when the user has no first and last name"
    )
    has_groups_on_user: bool = False
    user_group: UserGroupMapping | None = None
    roles: RoleMapping | None = None

    @model_validator(mode="after")
    def _groups_on_user(self) -> UserMapping:
        if self.has_groups_on_user and self.user_group is None:
            raise ValueError("userGroup: required when hasGroupsOnUser is true")
        return self


class MemberMapping(Model):
    """Members listed on the group object (guide: group.members)."""

    path: str
    id: str
    display_name: str | None = None
    type: str | None = Field(None, description="extension: member type (User/Group)")


class GroupMapping(Model):
    """Where each group attribute sits (guide: group)."""

    id: str
    display_name: str
    members: MemberMapping | None = None


class PaginationMapping(Model):
    """Where the ListResponse paging fields sit (guide: pagination)."""

    total_results: str
    items_per_page: str
    start_index: str
    page_size: int = Field(100, ge=1, description="extension: count per page")
    max_page_size: int | None = Field(
        None, ge=1, description="extension: the service's documented cap on count"
    )
    concurrency: int = Field(4, ge=1, le=64, description="extension: pages at once")
    method: Literal["auto", "index", "cursor"] = Field(
        "auto", description="extension: RFC 9865 cursors, index paging, or either"
    )


class PatchOperation(Model):
    """The request shape of one provisioning action (guide: provisioning.*)."""

    schemas: str | list[str] = PATCH_OP_SCHEMA
    op: str
    path: str
    value_path: str = "value"
    method: Literal["PATCH", "PUT"] = Field("PATCH", description="extension")
    remove_form: Literal["filter", "valueList"] = Field(
        "filter",
        description='extension: remove with members[value eq "id"] or a value list',
    )
    accept_unversioned_replace: bool = Field(
        False,
        description="extension: allow a replace-based removal without an ETag",
    )

    @property
    def schema_list(self) -> list[str]:
        return [self.schemas] if isinstance(self.schemas, str) else list(self.schemas)


class ProvisioningConfig(Model):
    """Request shapes for grant and revoke (guide: provisioning)."""

    add_user_to_group: PatchOperation | None = None
    remove_user_from_group: PatchOperation | None = None
    add_user_role: PatchOperation | None = None
    remove_user_role: PatchOperation | None = None


class RateLimit(Model):
    """Extension: a request budget the client never exceeds."""

    requests: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class HttpSettings(Model):
    """Extension: limits of the HTTP client for this provider."""

    rate_limit: RateLimit | None = None
    # Ten tries: at a 20% 429 rate, six in a row hit one request in about
    # 8% of 100k-user syncs (1,300 requests); ten in a row almost never do.
    max_attempts: int = Field(
        10, ge=1, le=50, description="tries of one request, the first included"
    )
    max_retry_wait_seconds: float = Field(
        120, ge=0, description="waiting between the tries of one request, in all"
    )
    retry_base_delay_seconds: float = Field(
        0.5, ge=0, le=60, description="first backoff without Retry-After; doubles"
    )
    retry_non_idempotent: bool = Field(
        False, description="retry PATCH/POST after 5xx or a lost answer"
    )
    max_response_mb: int = Field(
        64, ge=1, le=4096, description="largest answer read, in MiB"
    )


class ProviderConfig(Model):
    """A whole provider description (the guide's configuration file)."""

    api_endpoint: str
    has_scim_header: bool
    auth: AuthConfig
    user: UserMapping
    group: GroupMapping
    pagination: PaginationMapping
    provisioning: ProvisioningConfig | None = None
    http: HttpSettings = HttpSettings()

    @model_validator(mode="after")
    def _endpoint(self) -> ProviderConfig:
        if not self.api_endpoint.startswith(("https://", "http://")):
            raise ValueError("apiEndpoint: must be an http:// or https:// URL")
        return self


def load_config_file(path: str | Path) -> ProviderConfig:
    """Read and validate a provider description from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the file: {exc.strerror or exc}",
            hint="check the --scim-config path",
        ) from None
    return parse_config(text, source=str(path))


def parse_config(
    text: str, *, source: str, overrides: dict[str, Any] | None = None
) -> ProviderConfig:
    """Validate YAML text as a provider description; errors name ``source``."""
    data = _load_yaml(text, source)
    if overrides:
        data = _merge(data, overrides)
    return validate_config(data, source=source)


def validate_config(data: Any, *, source: str) -> ProviderConfig:
    """Validate a mapping as a provider description."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must hold a YAML mapping of keys")
    try:
        return ProviderConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(
            f"{source}: YAML syntax error{where}: {problem}",
            hint="fix the YAML syntax",
        ) from None


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _explain(exc: ValidationError, source: str) -> str:
    """Turn pydantic errors into one ``source: key.path: message; ...`` line.

    A missing key that an unknown key's suggestion already names is left
    out: ``hasScimHeaders: unknown key; did you mean 'hasScimHeader'?``
    says it all.
    """
    errors = exc.errors()
    suggested = {_suggested_key(e) for e in errors if e["type"] == "extra_forbidden"}
    kept = [
        e
        for e in errors
        if not (e["type"] == "missing" and _dotted(e["loc"]) in suggested)
    ]
    return f"{source}: " + "; ".join(_one_error(error) for error in kept)


def _dotted(loc: Any) -> str:
    return ".".join(str(part) for part in loc)


def _suggested_key(error: Any) -> str | None:
    loc = [str(part) for part in error["loc"]]
    close = _closest(loc)
    return ".".join([*loc[:-1], close]) if close else None


def _one_error(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required"
    if kind == "extra_forbidden":
        return f"{key}: unknown key{_suggestion(loc)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key}: {message}" if key else message


def _suggestion(loc: list[str]) -> str:
    """Name the closest valid key for an unknown one."""
    close = _closest(loc)
    if close:
        return f"; did you mean '{close}'?"
    names = _valid_names(loc)
    return f"; valid keys: {', '.join(names)}" if names else ""


def _closest(loc: list[str]) -> str | None:
    close = difflib.get_close_matches(loc[-1], _valid_names(loc), n=1, cutoff=0.5)
    return close[0] if close else None


def _valid_names(loc: list[str]) -> list[str]:
    model: type[BaseModel] | None = ProviderConfig
    for part in loc[:-1]:
        model = _field_model(model, part)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _field_model(model: type[BaseModel] | None, alias: str) -> type[BaseModel] | None:
    if model is None:
        return None
    for name, field in model.model_fields.items():
        if alias in (name, field.alias):
            return _model_of(field.annotation)
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
