"""``rectify integration`` (feed keys) and ``rectify webhooks`` (subscriptions,
the delivery log, redelivery)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer

from domain.errors import InvalidCommand
from infrastructure.composition import Services
from infrastructure.integration.services import Integration
from infrastructure.integration.webhooks import SubscriptionNotFound
from interfaces.cli.options import DatabaseUrl, fail

keys_app = typer.Typer(
    name="integration",
    help="Service accounts of other systems: keys that read the event feed (GET /feed).",
    no_args_is_help=True,
)
webhooks_app = typer.Typer(
    name="webhooks",
    help="Webhook subscriptions, their delivery log, and redelivery.",
    no_args_is_help=True,
)


@contextmanager
def open_integration(database_url: str | None) -> Iterator[Integration]:
    """The integration services of ``database_url``, closed afterwards."""
    with Services.open(database_url) as services:
        yield services.integration


def _when(epoch: float | None) -> str:
    return (
        "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    )


def _operator() -> str:
    return f"operator:{os.environ.get('USER') or 'cli'}"


# -- integration keys ----------------------------------------------------------------------


@keys_app.command("add")
def add_key(
    account: Annotated[str, typer.Argument(help="The service account, e.g. county-oa.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Make a key for ACCOUNT (read-only: the event feed); prints it once."""
    with open_integration(database_url) as integration:
        try:
            key, text = integration.keys.create(account, created_by=_operator())
        except ValueError as error:
            raise fail(str(error)) from None
    typer.echo(f"Integration key {key.key_id} for {key.account} (shown only now; keep it safe):")
    typer.echo(text)


@keys_app.command("list")
def list_keys(database_url: DatabaseUrl = None) -> None:
    """List the keys (never their secrets), revoked ones too."""
    with open_integration(database_url) as integration:
        for key in integration.keys.list():
            state = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active"
            typer.echo(f"{key.key_id}  {key.account:<24} {_when(key.created_at)}  {state}")


@keys_app.command("revoke")
def revoke_key(
    account_or_key: Annotated[str, typer.Argument(help="An account (all its keys) or a key id.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key, or every key of an account, at once."""
    with open_integration(database_url) as integration:
        count = integration.keys.revoke(account_or_key)
    if count == 0:
        raise fail(f"no active key of or named {account_or_key}")
    typer.echo(f"Revoked {count} key(s) of {account_or_key}.")


# -- webhooks ------------------------------------------------------------------------------


@webhooks_app.command("add")
def add_subscription(
    target_url: Annotated[str, typer.Argument(help="Where to POST, e.g. https://oa.example/hook.")],
    event_types: Annotated[
        list[str],
        typer.Option("--event", "-e", help="An event type (repeat), or '*' for every event."),
    ],
    secret: Annotated[
        str | None, typer.Option(help="A whsec_… secret (default: a new random one).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Subscribe TARGET_URL to event types; prints the subscription and its secret."""
    with open_integration(database_url) as integration:
        try:
            subscription = integration.webhooks.subscribe(
                target_url, event_types, created_by=_operator(), secret=secret
            )
        except InvalidCommand as error:
            raise fail(str(error)) from None
    typer.echo(f"Subscription {subscription.subscription_id} → {subscription.target_url}")
    typer.echo(f"  events: {', '.join(subscription.event_types)}")
    typer.echo(f"  secret: {subscription.secret}")


@webhooks_app.command("list")
def list_subscriptions(database_url: DatabaseUrl = None) -> None:
    """List the subscriptions with their status (active, failing)."""
    with open_integration(database_url) as integration:
        for s in integration.webhooks.subscriptions():
            typer.echo(
                f"{s.subscription_id}  {s.status:<8} {s.target_url}  {','.join(s.event_types)}"
            )


@webhooks_app.command("remove")
def remove_subscription(
    subscription_id: Annotated[str, typer.Argument()], database_url: DatabaseUrl = None
) -> None:
    """Stop delivering to a subscription (its delivery log is kept)."""
    with open_integration(database_url) as integration:
        try:
            integration.webhooks.unsubscribe(subscription_id)
        except SubscriptionNotFound:
            raise fail(f"no webhook subscription {subscription_id}") from None
    typer.echo(f"Removed {subscription_id}.")


@webhooks_app.command("deliveries")
def list_deliveries(
    subscription_id: Annotated[str | None, typer.Argument()] = None,
    status: Annotated[str | None, typer.Option(help="pending or delivered")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The delivery log: each message's status, attempts, last answer and latency."""
    with open_integration(database_url) as integration:
        rows = integration.webhooks.deliveries(subscription_id, status=status, limit=limit)
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
            continue
        latency = "-" if row["latency_ms"] is None else f"{row['latency_ms']:.1f} ms"
        typer.echo(
            f"{row['delivery_id']:>8} {row['status']:<9} attempts {row['attempts']:<3} "
            f"{row['event_type']:<36} {row['message_id']}  last {row['last_status'] or '-'} "
            f"{latency}{'  ' + row['last_error'] if row['last_error'] else ''}"
        )


@webhooks_app.command("redeliver")
def redeliver(
    delivery_ids: Annotated[list[int], typer.Argument(help="Delivery ids (from `deliveries`).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Send deliveries again, with the same webhook-id."""
    with open_integration(database_url) as integration:
        for delivery_id in delivery_ids:
            try:
                integration.webhooks.redeliver(delivery_id)
            except KeyError:
                raise fail(f"no delivery {delivery_id}") from None
    typer.echo(f"Queued {len(delivery_ids)} delivery(ies) again.")


@webhooks_app.command("reactivate")
def reactivate(
    subscription_id: Annotated[str, typer.Argument()], database_url: DatabaseUrl = None
) -> None:
    """Mark a failing subscription active again and retry its pending deliveries now."""
    with open_integration(database_url) as integration:
        try:
            pending = integration.webhooks.reactivate(subscription_id)
        except SubscriptionNotFound:
            raise fail(f"no webhook subscription {subscription_id}") from None
    typer.echo(f"{subscription_id} is active again; {pending} pending delivery(ies) retried now.")
