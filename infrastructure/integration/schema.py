"""The integration's tables beside the events (see :mod:`infrastructure.side_tables`).

- ``rectify_integration_keys``: the feed's service accounts, one hashed key each;
- ``rectify_follower_positions``: how far a follower of the log has got, written
  in the same transaction as what it did (the webhook outbox);
- ``rectify_webhook_subscriptions``, ``rectify_webhook_outbox`` (one row per
  message per subscription, retried until delivered) and
  ``rectify_webhook_attempts`` (the delivery log);
- ``rectify_reminders`` (one row per order, deadline and kind: what makes a
  reminder happen once) and ``rectify_notifications`` (per user, with read time).
"""

from __future__ import annotations

from infrastructure.side_tables import Dialect


def _tables(serial: str, real: str, bigint: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS rectify_integration_keys ("
        " key_id TEXT PRIMARY KEY,"
        " account TEXT NOT NULL,"
        " secret_hash TEXT NOT NULL,"
        " created_by TEXT NOT NULL,"
        f" created_at {real} NOT NULL,"
        f" revoked_at {real})",
        "CREATE INDEX IF NOT EXISTS rectify_integration_keys_account"
        " ON rectify_integration_keys (account)",
        "CREATE TABLE IF NOT EXISTS rectify_follower_positions ("
        " name TEXT PRIMARY KEY,"
        f" position {bigint} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS rectify_webhook_subscriptions ("
        " subscription_id TEXT PRIMARY KEY,"
        " target_url TEXT NOT NULL,"
        " event_types TEXT NOT NULL,"
        " secret TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " created_by TEXT NOT NULL,"
        f" created_at {real} NOT NULL,"
        f" from_position {bigint} NOT NULL,"
        f" failing_since {real},"
        f" deleted_at {real})",
        "CREATE TABLE IF NOT EXISTS rectify_webhook_outbox ("
        f" delivery_id {serial},"
        " subscription_id TEXT NOT NULL,"
        " message_id TEXT NOT NULL,"
        " event_type TEXT NOT NULL,"
        " case_key TEXT NOT NULL,"
        f" position {bigint},"
        " body TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        f" created_at {real} NOT NULL,"
        f" next_attempt_at {real} NOT NULL,"
        f" first_failure_at {real},"
        f" delivered_at {real},"
        " last_status INTEGER,"
        " last_error TEXT,"
        " UNIQUE (subscription_id, message_id))",
        "CREATE INDEX IF NOT EXISTS rectify_webhook_outbox_due"
        " ON rectify_webhook_outbox (status, next_attempt_at)",
        "CREATE INDEX IF NOT EXISTS rectify_webhook_outbox_case"
        " ON rectify_webhook_outbox (subscription_id, case_key, status, delivery_id)",
        "CREATE TABLE IF NOT EXISTS rectify_webhook_attempts ("
        f" attempt_id {serial},"
        f" delivery_id {bigint} NOT NULL,"
        f" attempted_at {real} NOT NULL,"
        " status_code INTEGER,"
        " error TEXT,"
        f" latency_ms {real} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS rectify_webhook_attempts_delivery"
        " ON rectify_webhook_attempts (delivery_id, attempt_id)",
        "CREATE TABLE IF NOT EXISTS rectify_reminders ("
        " reminder_key TEXT PRIMARY KEY,"
        " kind TEXT NOT NULL,"
        " order_id TEXT NOT NULL,"
        " deadline TEXT NOT NULL,"
        f" created_at {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS rectify_notifications ("
        f" notification_id {serial},"
        " user_id TEXT NOT NULL,"
        " reminder_key TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " order_id TEXT NOT NULL,"
        " case_id TEXT NOT NULL,"
        " number TEXT NOT NULL,"
        " deadline TEXT NOT NULL,"
        " text_zh TEXT NOT NULL,"
        " text_en TEXT NOT NULL,"
        f" created_at {real} NOT NULL,"
        f" read_at {real},"
        " UNIQUE (user_id, reminder_key))",
        "CREATE INDEX IF NOT EXISTS rectify_notifications_user"
        " ON rectify_notifications (user_id, notification_id)",
    ]


INTEGRATION_DDL: dict[Dialect, list[str]] = {
    "sqlite": _tables("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", "INTEGER"),
    "postgres": _tables("BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION", "BIGINT"),
}
