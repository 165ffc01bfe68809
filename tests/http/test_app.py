"""Building the app: from the environment, its stores beside the events, its threads."""

from __future__ import annotations

import threading
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.values import Role
from infrastructure.composition import Services, build_app, create_user_store
from infrastructure.evidence import DirectoryEvidenceStore, TableEvidenceStore
from infrastructure.idempotency import SqlIdempotencyStore
from infrastructure.users import SqlUserStore
from interfaces.http.app import _thread_count, create_app_from_env
from tests.http.conftest import FAST_HASHER


def test_the_app_from_the_environment_keeps_everything_beside_the_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.sqlite3'}"
    users = create_user_store(url, hasher=FAST_HASHER)
    users.add("chenxiaofeng", "陈小峰", Role.INSPECTOR, "chenxiaofeng-2022")
    users.close()
    monkeypatch.setenv("RECTIFY_DATABASE_URL", url)
    monkeypatch.delenv("RECTIFY_TOKEN_SECRET", raising=False)
    app = create_app_from_env()
    assert isinstance(app.state.users, SqlUserStore)
    assert isinstance(app.state.idempotency, SqlIdempotencyStore)
    assert isinstance(app.state.evidence, DirectoryEvidenceStore)
    assert app.state.evidence.directory == tmp_path / "evidence"
    with TestClient(app) as client:
        login = client.post(
            "/token", data={"username": "chenxiaofeng", "password": "chenxiaofeng-2022"}
        )
        token = login.json()["access_token"]
        created = client.post(
            "/sites",
            json={"name": "康顺盲人按摩店", "region": "安义县"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201
    reader = build_app(url)
    try:
        assert reader.get_site(UUID(created.json()["id"])).name == "康顺盲人按摩店"
    finally:
        reader.close()


def test_a_short_token_secret_in_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECTIFY_DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    monkeypatch.setenv("RECTIFY_TOKEN_SECRET", "too-short")
    with pytest.raises(ValueError, match="at least 32"):
        create_app_from_env()


def test_on_postgres_the_threads_stay_below_the_event_store_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECTIFY_HTTP_THREADS", raising=False)
    with Services.open(postgres_url) as services:
        assert _thread_count(services) == 5 + 10 - 5
        monkeypatch.setenv("RECTIFY_HTTP_THREADS", "4")
        assert _thread_count(services) == 4
    with Services.open(postgres_url + "?pool_size=20&max_overflow=0") as wide:
        monkeypatch.delenv("RECTIFY_HTTP_THREADS")
        assert _thread_count(wide) == 15


def test_on_postgres_evidence_is_kept_in_a_table(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECTIFY_DATABASE_URL", postgres_url)
    app = create_app_from_env()
    with TestClient(app):
        assert isinstance(app.state.evidence, TableEvidenceStore)
        stored = app.state.evidence.put(b"photo", name="p.jpg", media_type="image/jpeg")
        assert app.state.evidence.get(stored.sha256).data == b"photo"


def test_workers_starting_together_on_a_fresh_database_all_boot(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gunicorn boots its workers at once; each creates the tables it needs."""
    monkeypatch.setenv("RECTIFY_DATABASE_URL", postgres_url)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def boot() -> None:
        try:
            start.wait()
            app = create_app_from_env()
            for close in reversed(app.state.closers):
                close()
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    workers = [threading.Thread(target=boot) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
