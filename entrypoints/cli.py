"""The ``wa-gateway`` command: run the API, migrate the database, provision tenants."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib.util
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from application.errors import ApplicationError
from domain.administration.tenancy import ProviderName, Role, TwilioCredentials, User
from domain.errors import DomainError
from domain.identity.credentials import PLATFORM_TENANT_NAME
from domain.templates.errors import InvalidTemplate
from entrypoints.logging_setup import configure_logging
from entrypoints.settings import ConfigurationError, Settings, load_settings

if TYPE_CHECKING:
    # Imported where used: every process `serve --workers N` spawns runs this module first, and its
    # supervisor's health check waits for it; the container (every adapter and driver) comes after.
    from application.templates.as_code import AppliedPlan
    from domain.templates.plan import TemplatePlan
    from entrypoints.container import Container
    from entrypoints.http.templates.schemas import TemplatesFile

T = TypeVar("T")

# uvicorn's own default (5 s) replaces a process that is still importing on a busy machine, again
# and again; a hung process is still found and replaced, only later.
WORKER_HEALTHCHECK_TIMEOUT_SECONDS = 30
HTTP_SERVERS = ("uvicorn", "granian")


class CommandError(Exception):
    """Ends the command with this message on stderr and exit status 1."""


class UsageError(CommandError):
    """The command cannot work as it was called: this message, and exit status 2 (as for a bad option)."""


def _run(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    from entrypoints.container import create_container, shutdown

    async def main() -> T:
        container = create_container(settings)
        try:
            return await work(container)
        finally:
            await shutdown(container)

    return asyncio.run(main())


def _migrate(settings: Settings) -> None:
    from entrypoints.container import upgrade_database

    upgrade_database(settings.resolved_migration_database_url)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    from entrypoints.container import prepare_metrics_directory

    server = args.server or settings.http_server
    metrics_directory = prepare_metrics_directory()  # before any process writes a metric
    _migrate(settings)
    print(f"wa-gateway: database {_migration_target(settings)} is up to date{_migration_role(settings)}")
    if not settings.is_production and settings.demo_data:
        demo = _run(settings, lambda c: c.provision_demo()())
        if demo is not None:
            print(
                "wa-gateway: created a demo tenant on the sandbox provider (nothing leaves this machine):\n"
                f"  tenant   {demo.tenant.name} ({demo.tenant.id})\n"
                f"  sender   {demo.sender.phone_number}\n"
                f"  login    username {demo.username!r}, password {demo.password!r}"
            )
    base = f"http://{args.host}:{args.port}"
    print(
        f"wa-gateway: serving {base} (console: {base}/console, API docs: {base}/docs)"
        f" with {args.workers} worker(s) on {server}",
        flush=True,
    )
    if metrics_directory:
        print(f"wa-gateway: /metrics adds up every process's metrics in {metrics_directory}", flush=True)
    if server == "uvicorn":
        _serve_with_uvicorn(args, settings)
    else:
        _serve_with_granian(args, settings)


# Both servers get the same application and the same duties: the app's lifespan (dispatcher, pools) runs
# in each worker process; the request middleware logs each request (no server access log); the app reads
# forwarding headers itself, from TRUSTED_PROXIES only (no server proxy-header handling); SIGTERM or
# SIGINT lets requests in flight finish and the lifespan shut down before the processes exit.
ASGI_APP_FACTORY = "entrypoints.http.asgi:create_app_from_environment"
# uvicorn's default listen backlog, kept under either server.
LISTEN_BACKLOG = 2048


def _serve_with_uvicorn(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        ASGI_APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        backlog=LISTEN_BACKLOG,
        log_level=settings.log_level.lower(),
        log_config=None,  # our logging setup (structlog) renders uvicorn's lines too
        access_log=False,  # the request middleware logs each request, with its id
        proxy_headers=False,  # the app reads forwarding headers itself, from TRUSTED_PROXIES only
        server_header=False,
        timeout_worker_healthcheck=args.worker_healthcheck_timeout,
    )


def _serve_with_granian(args: argparse.Namespace, settings: Settings) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    server = Granian(
        ASGI_APP_FACTORY,
        factory=True,
        interface=Interfaces.ASGI,  # with the lifespan protocol, in each worker process
        address=args.host,
        port=args.port,
        workers=args.workers,
        loop=Loops.auto,  # uvloop, as uvicorn picks it (uvicorn[standard] installs it)
        http=HTTPModes.http1,
        websockets=False,
        backlog=LISTEN_BACKLOG,
        log_level=LogLevels(settings.log_level.lower()),
        log_access=False,  # the request middleware logs each request, with its id
        # Granian has no start-up deadline for a worker (one still importing on a busy machine is
        # waited for); a worker that exits is replaced, and one that keeps exiting stops the server.
        respawn_failed_workers=True,
    )
    # Granian's constructor installs logging handlers of its own: ours again (structlog), in this process;
    # each worker's app factory does the same in the worker.
    configure_logging(settings.log_level, settings.resolved_log_format)
    server.serve()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from entrypoints.background import background_work
    from entrypoints.container import create_worker_container, shutdown, warn_unless_row_level_security_binds
    from entrypoints.worker_http import worker_http

    metrics_port = args.metrics_port if args.metrics_port is not None else settings.metrics_port

    async def main() -> None:
        container = create_worker_container(settings)
        try:
            await warn_unless_row_level_security_binds(container)
            async with contextlib.AsyncExitStack() as stack:
                if metrics_port is not None:
                    await stack.enter_async_context(worker_http(container, args.metrics_host, metrics_port))
                stop = await stack.enter_async_context(background_work(container))
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop.set)
                owner = container.dispatcher().owner
                print(f"wa-gateway worker {owner}: dispatching from {_display_url(settings)}", flush=True)
                await stop.wait()
        finally:
            await shutdown(container)

    asyncio.run(main())


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    _migrate(settings)
    print(
        f"database {_migration_target(settings)} upgraded to the latest revision{_migration_role(settings)}"
    )
    if args.grant_app_role:
        _grant_app_role(settings, role=None, create=True)


def cmd_db_grant_app_role(args: argparse.Namespace, settings: Settings) -> None:
    _grant_app_role(settings, role=args.role, create=args.create)


def _grant_app_role(settings: Settings, *, role: str | None, create: bool) -> None:
    from sqlalchemy.engine import make_url

    from entrypoints.container import grant_database_app_role

    app_url = make_url(settings.resolved_database_url)
    owner_url = settings.resolved_migration_database_url
    role = role or app_url.username
    if app_url.get_backend_name() != "postgresql":
        raise CommandError("DATABASE_URL is not PostgreSQL: SQLite has no roles to grant")
    if not role:
        raise CommandError("name the role, or put it in DATABASE_URL (postgresql://ROLE:password@host/db)")
    if role == make_url(owner_url).username:
        raise CommandError(
            f"{role!r} is the owner MIGRATION_DATABASE_URL connects as: "
            "the application needs a role of its own"
        )
    password = None
    if create:
        if role != app_url.username or not app_url.password:
            raise CommandError("--create takes the role and its password from DATABASE_URL")
        password = app_url.password
    grant_database_app_role(owner_url, role, create_with_password=password)
    print(
        f"role {role!r} may now read and write every table of {_display_url(settings)}, "
        "within the tenant each transaction sets (row-level security)"
    )


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> None:
    from application.administration.onboarding import CreateTenantCommand
    from application.authorization import OPERATOR

    credentials = None
    provider = ProviderName(args.provider)
    if provider is ProviderName.TWILIO:
        if not args.twilio_account_sid:
            raise CommandError("--twilio-account-sid is required with --provider twilio")
        credentials = TwilioCredentials(
            account_sid=args.twilio_account_sid,
            auth_token=_read_secret(args, "Twilio auth token"),
            api_key_sid=args.api_key_sid,
            api_key_secret=_read_secret(args, "Twilio API key secret") if args.api_key_sid else None,
        )
    command = CreateTenantCommand(
        name=args.name,
        provider=provider,
        twilio_credentials=credentials,
        session_window_check=not args.no_session_window_check,
    )
    tenant = _run(settings, lambda c: c.create_tenant()(OPERATOR, command))
    print(json.dumps({"id": str(tenant.id), "name": tenant.name, "provider": tenant.provider.value}))


def _read_secret(args: argparse.Namespace, what: str) -> str:
    """Secrets come from a prompt or stdin (one per line), never from argv where `ps` shows them."""
    if not args.secrets_stdin:
        return _ask_secret(what, stdin_option="--secrets-stdin")
    secret = sys.stdin.readline().strip()
    if not secret:
        raise UsageError(f"--secrets-stdin: stdin has no {what} (one secret a line)")
    return secret


def _ask_secret(what: str, *, stdin_option: str) -> str:
    """Ask on the terminal; without one (a script, a container job) say how to pass it instead."""
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to ask for the {what} on: pipe it in with {stdin_option}")
    try:
        return getpass.getpass(f"{what}: ")
    except EOFError:
        raise UsageError(f"no {what} given") from None


def cmd_credentials_reseal(_: argparse.Namespace, settings: Settings) -> None:
    count = _run(settings, lambda c: c.reseal_credentials()())
    print(f"re-encrypted {count} tenant credential(s) and webhook secret(s) under the newest key")


def cmd_sender_add(args: argparse.Namespace, settings: Settings) -> None:
    from application.authorization import OPERATOR

    tenant_id = _uuid(args.tenant_id)
    sender = _run(
        settings, lambda c: c.add_sender()(OPERATOR, tenant_id, args.phone_number, label=args.label)
    )
    print(
        json.dumps(
            {"id": str(sender.id), "phone_number": sender.phone_number.e164, "is_default": sender.is_default}
        )
    )


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> None:
    role = Role(args.role)
    platform = args.tenant_id == PLATFORM_TENANT_NAME
    if platform != (role is Role.PLATFORM_ADMIN):
        raise CommandError(
            f"platform admins are created in the '{PLATFORM_TENANT_NAME}' tenant "
            f"(`user create {PLATFORM_TENANT_NAME} <username> --role platform_admin`), and only they are"
        )
    tenant_id = None if platform else _uuid(args.tenant_id)
    password = (
        sys.stdin.readline().rstrip("\n")
        if args.password_stdin
        else _ask_secret("Password", stdin_option="--password-stdin")
    )

    async def create(container: Container) -> User:
        owner = tenant_id if tenant_id is not None else (await container.ensure_platform_tenant()()).id
        from application.authorization import OPERATOR

        return await container.create_user()(OPERATOR, owner, args.username, password, role)

    user = _run(settings, create)
    print(json.dumps({"id": str(user.id), "username": user.username, "role": user.role.value}))


def _templates_file(path: str) -> TemplatesFile:
    """The templates document at ``path`` (``-``: stdin), as ``GET /api/templates/export`` writes it."""
    import msgspec

    from entrypoints.http.templates.schemas import decode_file

    try:
        content = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from error
    try:
        return decode_file(content)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise CommandError(f"{path} is not a templates document: {error}") from error


def _template_problems(error: InvalidTemplate) -> CommandError:
    return CommandError(
        "the file's templates break WhatsApp's rules:\n"
        + "\n".join(f"  {problem.field}: {problem.message}" for problem in error.problems)
    )


def cmd_templates_export(args: argparse.Namespace, settings: Settings) -> None:
    from application.authorization import OPERATOR
    from entrypoints.http.templates.schemas import encode_document

    async def export(container: Container) -> bytes:
        tenant = await container.resolve_tenant()(OPERATOR, args.tenant)
        return encode_document(await container.export_templates()(OPERATOR, tenant.id))

    document = _run(settings, export)
    if args.file == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        Path(args.file).write_bytes(document)
        print(f"wrote {args.file}", file=sys.stderr)


def _print_plan(plan: TemplatePlan) -> None:
    for definition in plan.create:
        print(f"+ create {definition.label}")
    for change in plan.update:
        print(f"~ update {change.wanted.label}")
    for definition in plan.delete:
        print(f"- delete {definition.label}")
    print(
        f"{len(plan.create)} to create, {len(plan.update)} to update, {len(plan.delete)} to delete, "
        f"{plan.unchanged} unchanged"
    )


def cmd_templates_plan(args: argparse.Namespace, settings: Settings) -> None:
    from application.authorization import OPERATOR

    file = _templates_file(args.file)
    delete_missing = file.delete_missing and not args.keep_missing

    async def plan(container: Container) -> TemplatePlan:
        tenant = await container.resolve_tenant()(OPERATOR, args.tenant)
        return await container.plan_templates()(
            OPERATOR, tenant.id, file.definitions(), delete_missing=delete_missing
        )

    try:
        _print_plan(_run(settings, plan))
    except InvalidTemplate as error:
        raise _template_problems(error) from error


def cmd_templates_apply(args: argparse.Namespace, settings: Settings) -> None:
    from application.authorization import OPERATOR
    from entrypoints.http.templates.schemas import account_choices

    file = _templates_file(args.file)
    delete_missing = file.delete_missing and not args.keep_missing

    async def apply(container: Container) -> AppliedPlan:
        tenant = await container.resolve_tenant()(OPERATOR, args.tenant)
        return await container.apply_templates()(
            OPERATOR,
            tenant.id,
            file.definitions(),
            delete_missing=delete_missing,
            accounts=account_choices(file.accounts),
        )

    try:
        applied = _run(settings, apply)
    except InvalidTemplate as error:
        raise _template_problems(error) from error
    for outcome in applied.outcomes:
        result = "done" if outcome.done else f"FAILED: {outcome.error}"
        print(f"{outcome.action.value} {outcome.name} ({outcome.language}): {result}")
    if applied.plan.is_empty:
        print("nothing to change")
    if not applied.complete:
        raise CommandError("some templates were not applied (see above); apply again once fixed")


def _openapi_schema(settings: Settings) -> dict[str, Any]:
    """The schema of the app these settings make, whether or not it serves its documentation."""
    import msgspec

    from entrypoints.container import create_container
    from entrypoints.http.app import create_app

    documented = msgspec.structs.replace(settings, docs_enabled=True)
    return create_app(create_container(documented)).openapi_schema.to_schema()


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> None:
    schema = _openapi_schema(settings)
    text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")


def cmd_postman(args: argparse.Namespace, settings: Settings) -> None:
    from entrypoints.postman import collection_from_openapi, render

    text = render(collection_from_openapi(_openapi_schema(settings)))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")


def _emulator_present(provider: str) -> bool:
    try:
        return importlib.util.find_spec(f"emulators.{provider}.command") is not None
    except ModuleNotFoundError:  # no package "emulators" at all
        return False


def cmd_twilio_emulator(args: argparse.Namespace, _: Settings) -> None:
    from emulators.twilio.command import config_from_arguments, run

    try:
        config = config_from_arguments(args)
    except ValueError as error:
        raise CommandError(f"twilio-emulator: {error}") from error
    run(config, args.host, args.port)


def cmd_meta_emulator(args: argparse.Namespace, _: Settings) -> None:
    from emulators.meta.command import config_from_arguments, run

    try:
        config = config_from_arguments(args)
    except ValueError as error:
        raise CommandError(f"meta-emulator: {error}") from error
    run(config, args.host, args.port)


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError as error:
        raise CommandError(f"{text!r} is not a tenant id (a UUID, as `tenant create` prints)") from error


def _display_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def _migration_target(settings: Settings) -> str:
    """The database migrations run on, as the owner's URL names it (without its password)."""
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_migration_database_url).render_as_string(hide_password=True)


def _migration_role(settings: Settings) -> str:
    """Which role migrations run as, and which setting named it; nothing for SQLite, which has no roles."""
    from sqlalchemy.engine import make_url

    role = make_url(settings.resolved_migration_database_url).username
    if not role:
        return ""
    source = "MIGRATION_DATABASE_URL" if settings.migration_database_url else "DATABASE_URL"
    return f" (migrated as role {role!r}, from {source})"


def _add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser(
        "upgrade", help="apply all migrations (as MIGRATION_DATABASE_URL, else DATABASE_URL)"
    )
    upgrade.add_argument(
        "--grant-app-role",
        action="store_true",
        help="then `grant-app-role --create` for DATABASE_URL's role (a deployment's one-shot job)",
    )
    upgrade.set_defaults(handler=cmd_db_upgrade)
    grant = db.add_parser(
        "grant-app-role",
        help="PostgreSQL: let ROLE (no superuser, no BYPASSRLS, owns no table) use the tables; "
        "run as the owner (MIGRATION_DATABASE_URL, else DATABASE_URL) after `db upgrade`",
    )
    grant.add_argument("role", nargs="?", help="the role (default: the user of DATABASE_URL)")
    grant.add_argument(
        "--create",
        action="store_true",
        help="create the role first if it does not exist, with DATABASE_URL's user and password",
    )
    grant.set_defaults(handler=cmd_db_grant_app_role)


def _add_emulator_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The emulators ship with the source tree, not with the production image: offered where present."""
    if _emulator_present("twilio"):
        emulator = commands.add_parser(
            "twilio-emulator", help="run a Twilio emulator (Messages API, callbacks, faults) for development"
        )
        from emulators.twilio.command import add_arguments as add_twilio_emulator_arguments

        add_twilio_emulator_arguments(emulator)
        emulator.set_defaults(handler=cmd_twilio_emulator)
    if _emulator_present("meta"):
        emulator = commands.add_parser(
            "meta-emulator",
            help="run a Meta emulator (WhatsApp Cloud API, media, signed webhooks, faults) for development",
        )
        from emulators.meta.command import add_arguments as add_meta_emulator_arguments

        add_meta_emulator_arguments(emulator)
        emulator.set_defaults(handler=cmd_meta_emulator)


def _add_templates_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    templates = commands.add_parser(
        "templates", help="a tenant's message templates as code (see docs/templates.md)"
    ).add_subparsers(dest="templates_command", required=True)
    export = templates.add_parser("export", help="write the tenant's templates as a JSON document")
    export.add_argument("--tenant", required=True, help="the tenant's name")
    export.add_argument("--file", "-f", default="-", help="file to write, - for stdout")
    export.set_defaults(handler=cmd_templates_export)
    for name, handler, what in (
        ("plan", cmd_templates_plan, "say what applying a templates document would change"),
        ("apply", cmd_templates_apply, "make the tenant's templates what a templates document says"),
    ):
        command = templates.add_parser(name, help=what)
        command.add_argument("--tenant", required=True, help="the tenant's name")
        command.add_argument(
            "--file", "-f", default="-", help="the document (as export writes it), - for stdin"
        )
        command.add_argument(
            "--keep-missing",
            action="store_true",
            help="keep the tenant's templates the document leaves out (default: delete them)",
        )
        command.set_defaults(handler=handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wa-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (migrates the database first)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for every interface (default: %(default)s)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=1, help="API processes")
    serve.add_argument(
        "--server",
        choices=HTTP_SERVERS,
        default=None,
        help="the HTTP server the API runs under (default: HTTP_SERVER, else uvicorn)",
    )
    serve.add_argument(
        "--worker-healthcheck-timeout",
        type=int,
        default=WORKER_HEALTHCHECK_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="uvicorn with --workers 2 or more: how long a process may take to answer the supervisor "
        "(starting up included) before it is replaced (default: %(default)s)",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker", help="dispatch accepted messages (run any number, beside or instead of serve's own)"
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /healthz and /metrics on this port (default: METRICS_PORT; unset: none)",
    )
    worker.add_argument("--metrics-host", default="0.0.0.0", help="address for --metrics-port")  # noqa: S104
    worker.set_defaults(handler=cmd_worker)

    _add_db_commands(commands)

    tenant = commands.add_parser("tenant", help="tenants").add_subparsers(
        dest="tenant_command", required=True
    )
    create_tenant = tenant.add_parser("create", help="create a tenant")
    create_tenant.add_argument("name", help="the tenant's name (unique)")
    create_tenant.add_argument(
        "--provider",
        choices=[p.value for p in ProviderName],
        default="sandbox",
        help="sandbox: nothing leaves this machine; twilio: the tenant's own Twilio account "
        "(default: %(default)s)",
    )
    create_tenant.add_argument(
        "--twilio-account-sid",
        help="with --provider twilio: the account's SID (AC…); its auth token is asked for",
    )
    create_tenant.add_argument(
        "--api-key-sid",
        help="call Twilio's API with this API key (its secret is asked for after the auth token)",
    )
    create_tenant.add_argument(
        "--no-session-window-check",
        action="store_true",
        help="sandbox tenants only: allow free-form messages outside the 24-hour window",
    )
    create_tenant.add_argument(
        "--secrets-stdin",
        action="store_true",
        help="read the auth token (then the API key secret) from stdin, one per line",
    )
    create_tenant.set_defaults(handler=cmd_tenant_create)

    credentials = commands.add_parser(
        "credentials", help="tenants' stored Twilio credentials"
    ).add_subparsers(dest="credentials_command", required=True)
    credentials.add_parser(
        "reseal", help="re-encrypt every stored secret under the first key of CREDENTIALS_KEYS"
    ).set_defaults(handler=cmd_credentials_reseal)

    sender = commands.add_parser("sender", help="WhatsApp senders").add_subparsers(
        dest="sender_command", required=True
    )
    add_sender = sender.add_parser("add", help="add a WhatsApp number to a tenant")
    add_sender.add_argument("tenant_id", help="the tenant's id, as `tenant create` prints it")
    add_sender.add_argument("phone_number", help="+E.164, e.g. +14155238886")
    add_sender.add_argument("--label", default="", help="a name to tell the tenant's senders apart")
    add_sender.set_defaults(handler=cmd_sender_add)

    user = commands.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    create_user = user.add_parser(
        "create", help="create a user of a tenant, or a platform admin (tenant 'platform')"
    )
    create_user.add_argument(
        "tenant_id", help=f"the tenant's id, or '{PLATFORM_TENANT_NAME}' with --role platform_admin"
    )
    create_user.add_argument("username", help="the name to log in with (unique across tenants)")
    create_user.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.AGENT.value,
        help="what the user may do (see the role table in docs/administration.md; default: %(default)s)",
    )
    create_user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create_user.set_defaults(handler=cmd_user_create)

    _add_templates_commands(commands)

    openapi = commands.add_parser("openapi", help="write the OpenAPI schema")
    openapi.add_argument("--output", "-o", default="-", help="file to write, - for stdout")
    openapi.set_defaults(handler=cmd_openapi)

    postman = commands.add_parser("postman", help="write the Postman collection (from the OpenAPI schema)")
    postman.add_argument("--output", "-o", default="-", help="file to write, - for stdout")
    postman.set_defaults(handler=cmd_postman)

    _add_emulator_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.resolved_log_format)
        args.handler(args, settings)
    except UsageError as error:
        print(f"wa-gateway: {error}", file=sys.stderr)
        return 2
    except (ConfigurationError, CommandError) as error:
        print(f"wa-gateway: {error}", file=sys.stderr)
        return 1
    except (ApplicationError, DomainError) as error:
        print(f"wa-gateway: {getattr(error, 'detail', error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
