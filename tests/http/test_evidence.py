"""Evidence is uploaded once and stored by its SHA-256; events record the hash, name,
type and size; a changed file is detectable."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from infrastructure.evidence import (
    DirectoryEvidenceStore,
    InMemoryEvidenceStore,
)
from tests.core.scenario import CHEN_XIAOFENG, LIU_FANG, TAO_BIAOYIN, Stage
from tests.http.conftest import Api, problem

PHOTO = b"\xff\xd8\xff\xe0 a photo of the visitor register"


def test_evidence_is_stored_once_by_its_sha256(backend_api: Api) -> None:
    api = backend_api
    first = api.upload(TAO_BIAOYIN, "登记簿.jpg", PHOTO)
    assert first == {
        "sha256": hashlib.sha256(PHOTO).hexdigest(),
        "name": "登记簿.jpg",
        "media_type": "image/jpeg",
        "size": len(PHOTO),
    }
    again = api.upload(CHEN_XIAOFENG, "another-name.jpg", PHOTO)
    assert again["sha256"] == first["sha256"]
    download = api.get(f"/evidence/{first['sha256']}", LIU_FANG)
    assert download.status_code == 200
    assert download.content == PHOTO
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert api.position() == 0, "an upload is not an event"


def test_a_command_records_the_evidence_it_cites_not_its_bytes(backend_api: Api) -> None:
    api = backend_api
    case = api.sweep.arrange_case(Stage.ACKNOWLEDGED)
    photo = api.upload(TAO_BIAOYIN, "登记簿.jpg", PHOTO)
    before = api.position()
    response = api.post(
        f"/orders/{case.order}/completion-report",
        TAO_BIAOYIN,
        {"note": "已建立登记簿", "evidence": [photo]},
        if_match=api.version(case.order),
    )
    assert response.status_code == 200
    event = api.sweep.events_since(before)[0]
    [recorded] = event.evidence
    assert (recorded.sha256, recorded.size, recorded.name) == (
        photo["sha256"],
        len(PHOTO),
        "登记簿.jpg",
    )
    stored = api.rectify.recorder.select_notifications(start=before + 1, limit=1)[0]
    assert PHOTO not in bytes(stored.state)


def test_citing_evidence_that_was_not_uploaded_as_described_is_422(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.ACKNOWLEDGED)
    photo = api.upload(TAO_BIAOYIN, "登记簿.jpg", PHOTO)
    before = api.position()
    for evidence, rule in [
        ({**photo, "sha256": "0" * 64}, "evidence_not_uploaded"),
        ({**photo, "size": photo["size"] + 1}, "evidence_size_mismatch"),
    ]:
        response = api.post(
            f"/orders/{case.order}/completion-report",
            TAO_BIAOYIN,
            {"note": "已建立登记簿", "evidence": [evidence]},
            if_match=api.version(case.order),
        )
        problem(response, 422, rule)
    assert api.events_since(before) == []


def test_a_changed_file_is_detected_on_download(api: Api) -> None:
    photo = api.upload(TAO_BIAOYIN, "登记簿.jpg", PHOTO)
    store = api.app.state.evidence
    assert isinstance(store, InMemoryEvidenceStore)
    # Someone with access to the storage retouches the photo behind the API's back.
    stored = store._files[photo["sha256"]]
    store._files[photo["sha256"]] = replace(stored, data=PHOTO + b" retouched")
    body = problem(api.get(f"/evidence/{photo['sha256']}", LIU_FANG), 409, "evidence_altered")
    assert photo["sha256"] in body["detail"]


def test_a_changed_file_on_disk_is_detected(tmp_path: Path) -> None:
    store = DirectoryEvidenceStore(tmp_path / "evidence")
    evidence = store.put(PHOTO, name="登记簿.jpg", media_type="image/jpeg")
    assert store.get(evidence.sha256).data == PHOTO
    (tmp_path / "evidence" / evidence.sha256).write_bytes(b"something else")
    try:
        store.get(evidence.sha256)
    except Exception as error:
        assert type(error).__name__ == "EvidenceAltered"
    else:
        raise AssertionError("an altered file was served")


def test_a_page_uploaded_as_evidence_is_served_only_as_a_download(api: Api) -> None:
    response = api.client.post(
        "/evidence",
        files={"file": ("x.html", b"<script>alert(1)</script>", "text/html")},
        headers=api.headers(TAO_BIAOYIN),
    )
    download = api.get(f"/evidence/{response.json()['sha256']}", LIU_FANG)
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")


def test_an_empty_or_oversized_upload_is_refused(api: Api) -> None:
    empty = api.client.post(
        "/evidence", files={"file": ("e.jpg", b"", "image/jpeg")}, headers=api.headers(TAO_BIAOYIN)
    )
    problem(empty, 422, "evidence_empty")
    huge = api.client.post(
        "/evidence",
        files={"file": ("h.jpg", b"\0" * (20 * 1024 * 1024 + 1), "image/jpeg")},
        headers=api.headers(TAO_BIAOYIN),
    )
    problem(huge, 413, "body_too_large")
    problem(api.get(f"/evidence/{'a' * 64}", LIU_FANG), 404)
    problem(api.get("/evidence/not-a-hash", LIU_FANG), 422)
