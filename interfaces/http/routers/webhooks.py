"""Webhook subscriptions (supervisors): where events go, and the delivery log.

The secret that signs deliveries is shown once, in the answer that creates the
subscription. A target must be on the operator's allow-list
(``RECTIFY_WEBHOOK_ALLOW``); a private, loopback or link-local address — named
or reached by DNS — is refused unless listed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from application.integration.webhooks import (
    EVERY_EVENT,
    MAX_URL_LENGTH,
    Subscription,
    known_event_types,
)
from infrastructure.integration.webhooks import SubscriptionNotFound
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.routers.common import Supervising
from interfaces.http.routers.feed import integration
from interfaces.http.validation import NO_NUL

router = APIRouter(prefix="/webhooks", tags=["integration"])

ERRORS = problem_responses(401, 403, 404, 422)

SubscriptionId = Annotated[str, Path(pattern=NO_NUL)]


class SubscriptionIn(BaseModel):
    target_url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=r"^https?://\S+$",
        examples=["https://hooks.example.org/rectify"],
    )
    # The known names are stated as an enum for the document; the check that
    # refuses others stays the application's (rule unknown_event_type).
    event_types: list[
        Annotated[str, Field(json_schema_extra={"enum": [EVERY_EVENT, *known_event_types()]})]
    ] = Field(
        min_length=1,
        max_length=100,
        description="Event types (e.g. `Hazard.Closed`, `Reminder.Overdue`), or `*` for all.",
        examples=[["Hazard.Closed", "Reminder.Overdue"]],
    )
    secret: str | None = Field(
        default=None,
        pattern=r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$",
        description="A Standard Webhooks secret; one is made when none is given.",
    )


class SubscriptionOut(BaseModel):
    subscription_id: str
    target_url: str
    event_types: list[str]
    status: str = Field(examples=["active"], description="`active`, or `failing` after a day.")
    created_by: str
    created_at: float
    from_position: int = Field(description="Events after this log position are delivered.")
    failing_since: float | None

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls(
            subscription_id=subscription.subscription_id,
            target_url=subscription.target_url,
            event_types=list(subscription.event_types),
            status=subscription.status,
            created_by=subscription.created_by,
            created_at=subscription.created_at,
            from_position=subscription.from_position,
            failing_since=subscription.failing_since,
        )


class CreatedSubscriptionOut(SubscriptionOut):
    secret: str = Field(description="Signs every delivery; shown only now.")


class DeliveryOut(BaseModel):
    delivery_id: int
    subscription_id: str
    message_id: str = Field(description="`webhook-id`: the same on every retry.")
    event_type: str
    case_key: str
    position: int | None
    status: str = Field(examples=["delivered"], description="`pending` or `delivered`.")
    attempts: int
    created_at: float
    next_attempt_at: float
    delivered_at: float | None
    last_status: int | None
    last_error: str | None
    latency_ms: float | None


def _not_found(subscription_id: str) -> ProblemError:
    return ProblemError(
        404, f"no webhook subscription {subscription_id}", rule="subscription_not_found"
    )


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=CreatedSubscriptionOut,
    responses=problem_responses(400, 401, 403, 413, 422),
    summary="Subscribe a target URL to event types",
)
def subscribe(user: Supervising, body: SubscriptionIn, request: Request) -> Any:
    subscription = integration(request).webhooks.subscribe(
        body.target_url, body.event_types, created_by=user.user_id, secret=body.secret
    )
    return CreatedSubscriptionOut(
        **SubscriptionOut.of(subscription).model_dump(), secret=subscription.secret
    )


@router.get("/subscriptions", response_model=list[SubscriptionOut], responses=ERRORS)
def subscriptions(user: Supervising, request: Request) -> Any:
    return [SubscriptionOut.of(s) for s in integration(request).webhooks.subscriptions()]


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    responses=problem_responses(401, 403, 404, 422),
    summary="Stop delivering to a subscription (its delivery log is kept)",
)
def unsubscribe(user: Supervising, subscription_id: SubscriptionId, request: Request) -> Response:
    try:
        integration(request).webhooks.unsubscribe(subscription_id)
    except SubscriptionNotFound:
        raise _not_found(subscription_id) from None
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=ERRORS,
    summary="The delivery log of a subscription: status, attempts, latency",
)
def deliveries(
    user: Supervising,
    subscription_id: SubscriptionId,
    request: Request,
    status: Annotated[str | None, Query(pattern="^(pending|delivered)$")] = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    store = integration(request).webhooks
    try:
        store.subscription(subscription_id)
    except SubscriptionNotFound:
        raise _not_found(subscription_id) from None
    return store.deliveries(subscription_id, status=status, after=after, limit=limit)
