"""Where webhooks may go: only to the operator's allow-list, and never to a
loopback, private or link-local address unless that address is listed — also
when a listed name resolves to one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from infrastructure.integration.services import Integration
from infrastructure.integration.targets import AllowList, TargetRefused


def resolving(*addresses: str):  # type: ignore[no-untyped-def]
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://10.1.2.3/hook", "webhook_target_private"),
        ("http://192.168.0.10/hook", "webhook_target_private"),
        ("http://169.254.169.254/latest/meta-data", "webhook_target_private"),
        ("http://127.0.0.1:9000/hook", "webhook_target_private"),
        ("http://[::1]/hook", "webhook_target_private"),
        ("http://[fe80::1]/hook", "webhook_target_private"),
    ],
)
def test_a_private_address_is_refused_even_on_a_broad_allow_list(url: str, rule: str) -> None:
    allow = AllowList.parse("0.0.0.0/0, ::/0")
    with pytest.raises(TargetRefused) as refused:
        allow.check(url)
    assert refused.value.rule == rule


def test_a_name_resolving_to_loopback_is_refused_unless_the_address_is_allowed() -> None:
    to_loopback = resolving("127.0.0.1")
    with pytest.raises(TargetRefused) as refused:
        AllowList.parse("hooks.example.org").check("https://hooks.example.org/x", to_loopback)
    assert refused.value.rule == "webhook_target_private"
    assert "127.0.0.1" in str(refused.value)
    allowed = AllowList.parse("hooks.example.org, 127.0.0.1")
    assert allowed.check("https://hooks.example.org/x", to_loopback) == ["127.0.0.1"]
    # One private answer among public ones is enough to refuse (DNS may rotate).
    with pytest.raises(TargetRefused):
        AllowList.parse("hooks.example.org").check(
            "https://hooks.example.org/x", resolving("93.184.216.34", "10.0.0.7")
        )


def test_a_host_not_on_the_allow_list_is_refused_and_a_listed_public_one_passes() -> None:
    public = resolving("93.184.216.34")
    allow = AllowList.parse("hooks.example.org, *.county.example")
    assert allow.check("https://hooks.example.org/x", public) == ["93.184.216.34"]
    assert allow.check("https://oa.county.example/x", public) == ["93.184.216.34"]
    for url in ("https://evil.example/x", "https://county.example.evil/x"):
        with pytest.raises(TargetRefused) as refused:
            allow.check(url, public)
        assert refused.value.rule == "webhook_target_not_allowed"
    for url in ("ftp://hooks.example.org/x", "https://user:pw@hooks.example.org/x", "hooks"):
        with pytest.raises(TargetRefused) as refused:
            allow.check(url, public)
        assert refused.value.rule == "webhook_url_invalid"
    assert AllowList.parse("").names == () and AllowList.parse(None).networks == ()


def test_localhost_is_resolved_before_it_is_trusted() -> None:
    with pytest.raises(TargetRefused) as refused:
        AllowList.parse("localhost").check("http://localhost:8080/hook")
    assert refused.value.rule == "webhook_target_private"
    assert AllowList.parse("localhost, 127.0.0.0/8").check("http://localhost:8080/hook")


@pytest.fixture
def settings() -> dict[str, str]:
    # Every public address, by a catch-all, which lists no private one.
    return {"WEBHOOK_ALLOW": "localhost, 0.0.0.0/0, hooks.example.org"}


def test_subscribing_a_private_or_loopback_target_over_http_is_refused_and_records_nothing(
    client: TestClient, integration: Integration
) -> None:
    token = client.app.state.auth.tokens.issue("zhangming").access_token  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    for target, rule in (
        ("http://10.0.0.5/hook", "webhook_target_private"),
        ("http://localhost:9/hook", "webhook_target_private"),
        ("https://hooks.evil.example/hook", "webhook_target_not_allowed"),
    ):
        answer = client.post(
            "/webhooks/subscriptions",
            json={"target_url": target, "event_types": ["Hazard.Closed"]},
            headers=headers,
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["rule"] == rule
    assert integration.webhooks.subscriptions() == []
    # An inspector may not subscribe at all.
    inspector = client.app.state.auth.tokens.issue("chenxiaofeng").access_token  # type: ignore[attr-defined]
    answer = client.post(
        "/webhooks/subscriptions",
        json={"target_url": "https://hooks.example.org/x", "event_types": ["*"]},
        headers={"Authorization": f"Bearer {inspector}"},
    )
    assert answer.status_code == 403
    assert integration.webhooks.subscriptions() == []


def test_a_supervisor_subscribes_lists_reads_the_delivery_log_and_unsubscribes(
    client: TestClient, integration: Integration, monkeypatch: pytest.MonkeyPatch
) -> None:
    import infrastructure.integration.targets as targets

    monkeypatch.setattr(targets, "resolve", resolving("93.184.216.34"))
    token = client.app.state.auth.tokens.issue("zhangming").access_token  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/webhooks/subscriptions",
        json={"target_url": "https://hooks.example.org/x", "event_types": ["Hazard.Closed"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["status"] == "active"
    [stored] = integration.webhooks.subscriptions()
    assert stored.subscription_id == body["subscription_id"] and stored.secret == body["secret"]
    listed = client.get("/webhooks/subscriptions", headers=headers).json()
    assert [s["subscription_id"] for s in listed] == [stored.subscription_id]
    assert "secret" not in listed[0]
    log = client.get(
        f"/webhooks/subscriptions/{stored.subscription_id}/deliveries", headers=headers
    )
    assert log.status_code == 200 and log.json() == []
    unknown = client.post(
        "/webhooks/subscriptions",
        json={"target_url": "https://hooks.example.org/x", "event_types": ["Hazard.Exploded"]},
        headers=headers,
    )
    assert unknown.status_code == 422 and unknown.json()["rule"] == "unknown_event_type"
    gone = client.delete(f"/webhooks/subscriptions/{stored.subscription_id}", headers=headers)
    assert gone.status_code == 204
    assert integration.webhooks.subscriptions() == []
    again = client.delete(f"/webhooks/subscriptions/{stored.subscription_id}", headers=headers)
    assert again.status_code == 404
