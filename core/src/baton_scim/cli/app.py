"""The typer application: the sync (no subcommand) and the shared flags."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr

from .. import __version__
from ..errors import BatonScimError, Interrupted
from ..logs import redactor
from ..provider import Credentials
from ..settings import Settings
from . import output

logger = logging.getLogger(__name__)
T = TypeVar("T")

app = typer.Typer(
    name="baton-scim",
    help="Sync users, groups and roles of a SCIM 2.0 service into a Baton c1z "
    "file; grant and revoke access with -p.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _opt(*names: str, env: str, help: str, hidden: bool = False, **kw: Any) -> Any:
    return typer.Option(
        *names, envvar=env, show_envvar=True, help=help, hidden=hidden, **kw
    )


def _secret(value: str | None) -> SecretStr | None:
    if not value:
        return None
    redactor.add(value)
    return SecretStr(value)


def _version(value: bool) -> None:
    if value:
        output.stdout.print(f"baton-scim {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    service_provider: Annotated[
        str | None,
        _opt(
            "--service-provider",
            env="BATON_SERVICE_PROVIDER",
            help="Name of the service provider (e.g. slack, zoom); see 'baton-scim providers'.",
        ),
    ] = None,
    scim_config: Annotated[
        Path | None,
        _opt(
            "--scim-config",
            env="BATON_SCIM_CONFIG",
            help="Path to a custom YAML SCIM provider description.",
        ),
    ] = None,
    token: Annotated[
        str | None, _opt("--token", env="BATON_TOKEN", help="OAuth2 bearer token.")
    ] = None,
    api_key: Annotated[
        str | None,
        _opt(
            "--api-key",
            env="BATON_API_KEY",
            help="API key (sent with auth.apiKeyPrefix).",
        ),
    ] = None,
    username: Annotated[
        str | None,
        _opt(
            "--username",
            env="BATON_USERNAME",
            help="Username for basic authentication.",
        ),
    ] = None,
    password: Annotated[
        str | None,
        _opt(
            "--password",
            env="BATON_PASSWORD",
            help="Password for basic authentication.",
        ),
    ] = None,
    scim_client_id: Annotated[
        str | None,
        _opt(
            "--scim-client-id",
            env="BATON_SCIM_CLIENT_ID",
            help="Client ID used to obtain an access token.",
        ),
    ] = None,
    scim_client_secret: Annotated[
        str | None,
        _opt(
            "--scim-client-secret",
            env="BATON_SCIM_CLIENT_SECRET",
            help="Client secret used to obtain an access token.",
        ),
    ] = None,
    account_id: Annotated[
        str | None,
        _opt(
            "--account-id",
            env="BATON_ACCOUNT_ID",
            help="Account ID used to obtain an access token (Zoom).",
        ),
    ] = None,
    provisioning: Annotated[
        bool,
        _opt(
            "-p",
            "--provisioning",
            env="BATON_PROVISIONING",
            help="Enable provisioning actions (grant and revoke).",
        ),
    ] = False,
    file: Annotated[
        Path,
        _opt(
            "-f",
            "--file",
            env="BATON_FILE",
            help="Path to the c1z file to write (sync) or read (provisioning).",
        ),
    ] = Path("sync.c1z"),
    log_level: Annotated[
        str,
        _opt("--log-level", env="BATON_LOG_LEVEL", help="debug, info, warn or error."),
    ] = "info",
    log_format: Annotated[
        str | None,
        _opt(
            "--log-format",
            env="BATON_LOG_FORMAT",
            help="console or json (default: console on a terminal, else json).",
        ),
    ] = None,
    api_endpoint: Annotated[
        str | None,
        _opt(
            "--api-endpoint",
            env="BATON_API_ENDPOINT",
            help="Replace the description's apiEndpoint (e.g. a Slack Enterprise Grid or test URL).",
        ),
    ] = None,
    auth_url: Annotated[
        str | None,
        _opt(
            "--auth-url",
            env="BATON_AUTH_URL",
            help="Replace the description's auth.authUrl.",
        ),
    ] = None,
    page_size: Annotated[
        int | None,
        _opt(
            "--page-size",
            env="BATON_PAGE_SIZE",
            help="Resources per list request (capped by the provider's maximum).",
            min=1,
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        _opt(
            "--concurrency",
            env="BATON_CONCURRENCY",
            help="List requests in flight at once.",
            min=1,
            max=64,
        ),
    ] = None,
    http_timeout_seconds: Annotated[
        int,
        _opt(
            "--http-timeout-seconds",
            env="BATON_HTTP_TIMEOUT_SECONDS",
            help="Timeout of one HTTP request.",
            min=1,
            max=1800,
        ),
    ] = 300,
    run_timeout_seconds: Annotated[
        int | None,
        _opt(
            "--run-timeout-seconds",
            env="BATON_RUN_TIMEOUT_SECONDS",
            help="Give up when the whole run takes longer.",
            min=1,
        ),
    ] = None,
    max_attempts: Annotated[
        int | None,
        _opt(
            "--max-attempts",
            env="BATON_MAX_ATTEMPTS",
            help="Tries of one request before giving up (http.maxAttempts; default 6).",
            min=1,
            max=50,
        ),
    ] = None,
    max_retry_wait_seconds: Annotated[
        float | None,
        _opt(
            "--max-retry-wait-seconds",
            env="BATON_MAX_RETRY_WAIT_SECONDS",
            help="Waiting between the tries of one request, in all (http.maxRetryWaitSeconds; default 120).",
            min=0,
        ),
    ] = None,
    max_response_mb: Annotated[
        int | None,
        _opt(
            "--max-response-mb",
            env="BATON_MAX_RESPONSE_MB",
            help="Largest answer read, in MiB (http.maxResponseMb; default 64).",
            min=1,
            max=4096,
        ),
    ] = None,
    ca_bundle: Annotated[
        Path | None,
        _opt(
            "--ca-bundle",
            env="BATON_CA_BUNDLE",
            help="CA bundle (PEM) to verify the service's TLS certificate.",
        ),
    ] = None,
    grant_entitlement: Annotated[
        str | None,
        _opt(
            "--grant-entitlement",
            env="BATON_GRANT_ENTITLEMENT",
            help="Entitlement ID to grant (e.g. group:<id>:member).",
            hidden=True,
        ),
    ] = None,
    grant_principal: Annotated[
        str | None,
        _opt(
            "--grant-principal",
            env="BATON_GRANT_PRINCIPAL",
            help="Principal ID to grant to.",
            hidden=True,
        ),
    ] = None,
    grant_principal_type: Annotated[
        str | None,
        _opt(
            "--grant-principal-type",
            env="BATON_GRANT_PRINCIPAL_TYPE",
            help="Principal resource type (user).",
            hidden=True,
        ),
    ] = None,
    revoke_grant: Annotated[
        str | None,
        _opt(
            "--revoke-grant",
            env="BATON_REVOKE_GRANT",
            help="Grant ID to revoke.",
            hidden=True,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "-v",
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    fmt = (log_format or output.default_log_format()).lower()
    output.configure_logging(log_level, fmt)
    settings = Settings(
        service_provider=service_provider,
        scim_config=scim_config,
        credentials=Credentials(
            token=_secret(token),
            api_key=_secret(api_key),
            username=username,
            password=_secret(password),
            client_id=scim_client_id,
            client_secret=_secret(scim_client_secret),
            account_id=account_id,
        ),
        file=file,
        provisioning=provisioning,
        api_endpoint=api_endpoint,
        auth_url=auth_url,
        page_size=page_size,
        concurrency=concurrency,
        http_timeout_seconds=float(http_timeout_seconds),
        run_timeout_seconds=float(run_timeout_seconds) if run_timeout_seconds else None,
        max_attempts=max_attempts,
        max_retry_wait_seconds=max_retry_wait_seconds,
        max_response_mb=max_response_mb,
        ca_bundle=ca_bundle,
    )
    ctx.obj = State(settings, fmt, log_level.lower() == "debug")
    if ctx.invoked_subcommand is not None:
        return

    state: State = ctx.obj
    if grant_entitlement or grant_principal or grant_principal_type or revoke_grant:
        from .provision import provision

        with failures(state):
            provision(
                state,
                grant_entitlement=grant_entitlement,
                grant_principal=grant_principal,
                grant_principal_type=grant_principal_type,
                revoke_grant=revoke_grant,
            )
        return
    with failures(state):
        run_sync(state)


class State:
    """What the root command hands to subcommands."""

    def __init__(self, settings: Settings, log_format: str, debug: bool) -> None:
        self.settings = settings
        self.log_format = log_format
        self.debug = debug


def run_sync(state: State) -> None:
    """Validate, then sync with progress on a terminal, then summarise."""
    from ..runtime import prepare
    from ..sync import sync_into

    context = prepare(state.settings)
    progress = output.progress_for(state.log_format)
    with progress.running() if progress else nullcontext():
        summary = run_async(
            lambda: sync_into(context, state.settings, on_page=progress),
            timeout=state.settings.run_timeout_seconds,
        )
    if state.log_format == "console":
        output.print_summary(summary, output.stderr)


@contextmanager
def failures(state: State) -> Iterator[None]:
    """Turn errors into one line on stderr and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except BatonScimError as error:
        output.error_line(error, debug=state.debug)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        output.error_line(Interrupted(signal.SIGINT), debug=state.debug)
        raise typer.Exit(130) from None
    except Exception as error:  # the last line of defence: no traceback unless debug
        output.error_line(error, debug=state.debug)
        raise typer.Exit(1) from None


def run_async(
    factory: Callable[[], Awaitable[T]],
    timeout: float | None = None,
    interrupted_hint: str | None = None,
) -> T:
    """Run a coroutine; SIGINT/SIGTERM cancel it cleanly (exit 130/143).

    ``interrupted_hint`` says what to do after an interruption (by default,
    the sync's: the previous file was kept).
    """
    return asyncio.run(_guarded(factory, timeout, interrupted_hint))


async def _guarded(
    factory: Callable[[], Awaitable[T]], timeout: float | None, hint: str | None
) -> T:
    """Run the work as a task of its own, which a signal cancels.

    The signal cancels the work, not this task waiting on it: work that is
    already done may then finish and say so (the sync once its file is
    written, a grant once the service made it: http.close_after).
    """
    loop = asyncio.get_running_loop()
    work = asyncio.ensure_future(_awaited(factory))
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        work.cancel()

    installed = _install(loop, stop)
    try:
        return await asyncio.wait_for(work, timeout)
    except TimeoutError:
        raise BatonScimError(
            f"the run took longer than {timeout:.0f}s",
            hint="raise --run-timeout-seconds",
        ) from None
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0], hint) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _awaited(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def _install(loop: asyncio.AbstractEventLoop, stop: Callable[[int], None]) -> list[int]:
    installed: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop, signum)
            installed.append(signum)
        except (ValueError, RuntimeError, NotImplementedError):
            pass  # not the main thread (e.g. an embedding test runner)
    return installed


def main() -> None:
    """Console entry point."""
    from . import commands  # noqa: F401  (registers the subcommands)

    app(prog_name="baton-scim")
    sys.exit(0)
