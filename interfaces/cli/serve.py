"""``rectify serve``: the HTTP API under uvicorn, or gunicorn for several workers.

One process on SQLite (one file, one writer at a time: more processes would
only queue on its lock) and on the in-memory store (a second process would see
none of the first's data). Several workers only on PostgreSQL, under gunicorn
with uvicorn's worker class: gunicorn supervises the workers, restarts one that
dies, and on a hello-world measured far ahead of ``uvicorn --workers``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from infrastructure.idempotency import purge_settings
from infrastructure.login_limits import (
    PASSWORD_CHECKS_VARIABLE,
    LoginLimitSettings,
    available_cpus,
)
from infrastructure.persistence import DATABASE_URL_VARIABLE
from infrastructure.users import lockout_policy
from interfaces.cli.demo import (
    DemoLogin,
    echo_logins,
    ensure_demo_users,
    load_demo_data,
    store_demo_evidence,
)
from interfaces.cli.options import backend_of, fail, shown

# The same factory an operator would give ``uvicorn --factory`` or gunicorn.
HTTP_FACTORY = "interfaces.http.app:create_app_from_env"
# uvicorn's worker, with the bounds on clients of interfaces.http.server.
GUNICORN_WORKER_CLASS = "interfaces.http.server.RectifyUvicornWorker"


def base_url(host: str, port: int) -> str:
    """The URL to print for a bind address; a wildcard address is shown as the loopback."""
    shown_host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    return f"http://{shown_host}:{port}"


def check_workers(database_url: str | None, workers: int) -> None:
    """Refuse several workers on a store that one process must own."""
    if workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    backend = backend_of(database_url)
    if workers > 1 and backend != "postgres":
        raise typer.BadParameter(
            f"{workers} workers need PostgreSQL; the {backend} store is served by one process",
            param_hint="--workers",
        )


def echo_banner(
    database_url: str | None, host: str, port: int, workers: int, logins: Sequence[DemoLogin]
) -> None:
    """What an operator needs to start using the service, printed before it starts."""
    url = base_url(host, port)
    typer.echo(f"rectify serving {shown(database_url)} ({workers} worker{'s' * (workers > 1)})")
    typer.echo(f"  Console:   {url}/")
    typer.echo(f"  API docs:  {url}/docs")
    typer.echo(f"  OpenAPI:   {url}/openapi.json")
    if logins:
        echo_logins(list(logins))
    typer.echo("  Stop with Ctrl+C.", nl=True)


def echo_console_url(host: str, port: int, demo: bool) -> None:
    """The first line printed: where a person opens the web console."""
    hint = " (sign in with a demo login listed below)" if demo else ""
    typer.echo(f"Open the console in a browser: {base_url(host, port)}/{hint}")


def serve(database_url: str | None, host: str, port: int, workers: int, demo: bool) -> None:
    """Load the demo if asked, print the banner, then serve until interrupted."""
    check_workers(database_url, workers)
    echo_console_url(host, port, demo)
    try:
        # Read here too, so a malformed setting stops the start with its own
        # message rather than a worker's traceback.
        lockout_policy(os.environ)
        LoginLimitSettings.from_environ(os.environ)
        purge_settings(lambda key: os.environ.get(f"RECTIFY_{key}") or os.environ.get(key))
        from interfaces.http.server import max_connections, request_timeout

        request_timeout()
        max_connections()
    except ValueError as error:
        raise fail(str(error)) from None
    if backend_of(database_url) == "popo":
        serve_in_memory(host, port, demo)
        return
    logins: list[DemoLogin] = []
    if demo:
        summary, logins = load_demo_data(database_url)
        for line in summary.lines():
            typer.echo(line)
    # The factory reads the URL from the environment, in this process and in
    # every gunicorn worker.
    if database_url is None:
        os.environ.pop(DATABASE_URL_VARIABLE, None)
    else:
        os.environ[DATABASE_URL_VARIABLE] = database_url
    echo_banner(database_url, host, port, workers, logins)
    if workers == 1:
        import uvicorn

        from interfaces.http.server import uvicorn_limits

        uvicorn.run(HTTP_FACTORY, factory=True, host=host, port=port, **uvicorn_limits())
    else:
        share_password_checks(workers)
        prepare_database()
        argv = gunicorn_argv(host, port, workers)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)


def share_password_checks(workers: int) -> None:
    """Share the CPUs among the workers' password checks, unless the operator set them.

    Each worker bounds its own checks (one Argon2 check already keeps several
    cores busy); a CPU's worth per worker would let ``workers`` times the CPUs
    run at once on one machine.
    """
    if not os.environ.get(PASSWORD_CHECKS_VARIABLE, "").strip():
        os.environ[PASSWORD_CHECKS_VARIABLE] = str(max(1, available_cpus() // workers))


def prepare_database() -> None:
    """Start the API once in this process, and stop it, before several workers start.

    That creates every table the API and its lifespan use (events, users,
    read models, the audit chain …). PostgreSQL's ``CREATE TABLE IF NOT
    EXISTS`` is not safe against itself: workers creating the same table at
    the same moment on a fresh database fail with a unique violation, and
    gunicorn then stops them all.
    """
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    from interfaces.http.app import create_app_from_env

    api = create_app_from_env()

    async def start_and_stop() -> None:
        async with api.router.lifespan_context(api):
            pass

    # On a thread of its own: a caller that already runs an event loop in this
    # thread (a test session driving a browser, an embedding program) would
    # otherwise make anyio refuse to start one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(anyio.run, start_and_stop).result()


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line that serves the API with ``workers`` uvicorn workers."""
    bind_host = f"[{host}]" if ":" in host else host
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        GUNICORN_WORKER_CLASS,
        "--workers",
        str(workers),
        "--bind",
        f"{bind_host}:{port}",
        f"{HTTP_FACTORY}()",
    ]


def serve_in_memory(host: str, port: int, demo: bool) -> None:
    """Serve a store that lives in this process: one app, built here, demo loaded into it."""
    import uvicorn

    from application.demo import STORY_START, load_demo
    from infrastructure.clock import ManualClock
    from infrastructure.composition import Services
    from interfaces.http.app import create_app

    database_url = "popo://"
    services = Services.open(database_url)
    logins: list[DemoLogin] = []
    if demo:
        logins = ensure_demo_users(services.users)
        for line in load_demo(services.app, ManualClock(STORY_START)).lines():
            typer.echo(line)
        store_demo_evidence(services.evidence)
    api = create_app(services=services)
    echo_banner(database_url, host, port, 1, logins)
    from interfaces.http.server import uvicorn_limits

    uvicorn.run(api, host=host, port=port, **uvicorn_limits())
