"""The integration's services for one application, over its side tables.

:class:`Integration` holds the feed, the integration keys, the webhook store and
deliverer, the reminder check and the notifications. The composition root
(``Services.integration``) builds it once per set of services; the HTTP app, the
CLI and the followers registered there (``webhook_outbox``, ``webhook_delivery``,
``reminders``) take it from there.

Settings (``RECTIFY_`` in the environment, or the application's settings):

- ``RECTIFY_WEBHOOK_ALLOW`` — the allow-list of webhook targets (see
  :mod:`infrastructure.integration.targets`); empty: no target is allowed;
- ``RECTIFY_WEBHOOK_RETRY_SECONDS`` (10), ``RECTIFY_WEBHOOK_RETRY_MAX_SECONDS``
  (3600), ``RECTIFY_WEBHOOK_GIVE_UP_SECONDS`` (86400) — the back-off: the first
  retry after 10 s, doubling up to an hour, the subscription marked failing
  after a day of failures;
- ``RECTIFY_WEBHOOK_DELIVERY_SECONDS`` (0.2) — how often the outbox is looked
  at for deliveries due; ``RECTIFY_REMINDER_CHECK_SECONDS`` (60) — how often
  the reminder check runs (0 turns either off).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from application.app import RectifyApp
from application.integration.feed import EventFeed
from application.integration.reminders import Reminder, ReminderCheck
from application.integration.webhooks import RetryPolicy
from infrastructure.integration.delivery import DeliveryRound, WebhookDeliverer
from infrastructure.integration.keys import IntegrationKeys
from infrastructure.integration.notifications import NotificationBook, ReadModelReminderSource
from infrastructure.integration.outbox import OutboxProjection, outbox_projection
from infrastructure.integration.targets import allow_list_from
from infrastructure.integration.webhooks import WebhookStore
from infrastructure.readmodels.queries import ReadModelQueries
from infrastructure.side_tables import SideDatabase
from infrastructure.users import UserStore

DELIVERY_SECONDS, REMINDER_SECONDS = "WEBHOOK_DELIVERY_SECONDS", "REMINDER_CHECK_SECONDS"
DEFAULT_DELIVERY_SECONDS, DEFAULT_REMINDER_SECONDS = 0.2, 60.0


def _number(app: RectifyApp, key: str, default: float) -> float:
    value = app.env.get(key)
    return default if value is None or not str(value).strip() else float(value)


class Integration:
    """Everything that lets other systems follow the service (see the module)."""

    def __init__(
        self,
        app: RectifyApp,
        users: UserStore,
        side: SideDatabase,
        *,
        queries: Callable[[], ReadModelQueries],
    ) -> None:
        self.app = app
        self.users = users
        self.side = side
        self._queries = queries
        self.feed = EventFeed(app)
        self.keys = IntegrationKeys(self.side)
        self.webhooks = WebhookStore(self.side, allow=allow_list_from(app.env))
        self.notifications = NotificationBook(self.side, self.webhooks)
        self.policy = RetryPolicy(
            first=_number(app, "WEBHOOK_RETRY_SECONDS", RetryPolicy.first),
            longest=_number(app, "WEBHOOK_RETRY_MAX_SECONDS", RetryPolicy.longest),
            give_up_after=_number(app, "WEBHOOK_GIVE_UP_SECONDS", RetryPolicy.give_up_after),
        )

    @cached_property
    def deliverer(self) -> WebhookDeliverer:
        return WebhookDeliverer(self.webhooks, policy=self.policy)

    @cached_property
    def reminders(self) -> ReminderCheck:
        return ReminderCheck(
            ReadModelReminderSource(self._queries(), self.users), self.notifications
        )

    def outbox_projection(self) -> OutboxProjection:
        """The follower that fills the outbox from the log."""
        return outbox_projection(self.app, self.webhooks)

    def deliver_due(self) -> DeliveryRound:
        """The delivery job: send what is due."""
        return self.deliverer.deliver_due()

    def send_reminders(self) -> list[Reminder]:
        """The reminder job: record today's reminders not recorded before."""
        return self.reminders.run(self.app.today())

    def close(self) -> None:
        if "deliverer" in self.__dict__:
            self.deliverer.close()
