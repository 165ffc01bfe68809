"""Signed actions (21 CFR Part 11 §11.50): closing a case and granting an extension
take the supervisor's password again and record signer, time and meaning."""

from __future__ import annotations

from domain.values import Severity, SignatureMeaning
from tests.core.scenario import CHEN_XIAOFENG, PASSWORDS, YU_JIANMING, ZHANG_MING, Stage
from tests.http.conftest import Api, problem


def _close(api: Api, case_id, actor=ZHANG_MING, password: str | None = None):
    return api.post(
        f"/cases/{case_id}/close",
        actor,
        {"reason": "复查合格，准予销号", "password": password or PASSWORDS[actor.user_id]},
        if_match=api.version(case_id),
    )


def test_closing_a_case_is_signed_with_signer_time_and_meaning(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    before = api.position()
    assert _close(api, case.hazard).status_code == 200
    [closed] = api.sweep.events_since(before)
    assert type(closed).__qualname__ == "Hazard.Closed"
    assert closed.signature.signer_id == ZHANG_MING.user_id
    assert closed.signature.signer_name == "张铭"
    assert closed.signature.meaning == SignatureMeaning.CLOSED_AS_RECTIFIED
    assert closed.signature.signed_at == api.clock()
    assert closed.reason == "复查合格，准予销号"


def test_a_signed_close_with_a_wrong_password_is_403_and_records_nothing(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    before = api.position()
    response = _close(api, case.hazard, password="zhangming-wrong")
    body = problem(response, 403, "signature_rejected")
    assert "zhangming-wrong" not in response.text
    assert "nothing signed" in body["detail"]
    assert api.events_since(before) == []
    assert api.rectify.get_hazard(case.hazard).status == "verified"


def test_another_persons_password_does_not_sign(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    before = api.position()
    problem(
        _close(api, case.hazard, password=PASSWORDS[YU_JIANMING.user_id]), 403, "signature_rejected"
    )
    assert api.events_since(before) == []


def test_a_major_case_is_closed_by_a_supervisor_other_than_its_verifier(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED, severity=Severity.MAJOR, verifier=ZHANG_MING)
    before = api.position()
    problem(_close(api, case.hazard, ZHANG_MING), 403, "major_case_closer_is_not_verifier")
    assert api.events_since(before) == []
    assert _close(api, case.hazard, YU_JIANMING).status_code == 200
    assert api.events_since(before) == ["Hazard.Closed"]


def test_granting_an_extension_is_signed_and_moves_the_deadline(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.ACKNOWLEDGED)
    old_deadline = api.rectify.get_order(case.order).deadline
    requested = api.post(
        f"/orders/{case.order}/extension-requests",
        CHEN_XIAOFENG,
        {"new_deadline": "2022-05-02", "reason": "检测点排队"},
        if_match=api.version(case.order),
    )
    assert requested.status_code == 200
    wrong = api.post(
        f"/orders/{case.order}/extension-requests/grant",
        ZHANG_MING,
        {"reason": "理由充分", "password": "not-his"},
        if_match=requested.json()["version"],
    )
    problem(wrong, 403, "signature_rejected")
    before = api.position()
    granted = api.post(
        f"/orders/{case.order}/extension-requests/grant",
        ZHANG_MING,
        {"reason": "理由充分", "password": PASSWORDS[ZHANG_MING.user_id]},
        if_match=requested.json()["version"],
    )
    assert granted.status_code == 200
    [event] = api.sweep.events_since(before)
    assert event.signature.meaning == SignatureMeaning.EXTENSION_GRANTED
    assert event.signature.signer_id == ZHANG_MING.user_id
    assert (event.old_deadline, str(event.new_deadline)) == (old_deadline, "2022-05-02")
    order = api.get(f"/orders/{case.order}", ZHANG_MING).json()
    assert order["deadline"] == "2022-05-02"
    assert order["pending_extension"] is None
