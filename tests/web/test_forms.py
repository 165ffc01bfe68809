"""The seed's walk through the console's forms, and what keeps a change from being lost:
a stale form, a form sent twice, a wrong signature, rule errors beside their field."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from bs4 import BeautifulSoup

from application.demo import AUDITOR, CHEN_XIAOFENG, TAO_BIAOYIN, YU_JIANMING, ZHANG_MING
from domain.checklists import get_template
from tests.web.conftest import Console, parse

PHOTO = ("口罩.jpg", b"\xff\xd8\xff JPEG mask photo", "image/jpeg")


def _follow(console: Console, response) -> tuple[str, BeautifulSoup]:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text[-2000:]
    location = response.headers["location"]
    status, page = console.page(location)
    assert status == 200, location
    return location, page


def _site(console: Console, name: str) -> UUID:
    return next(s for s in console.demo.site_ids if console.rectify.get_site(s).name == name)


def test_the_seed_walk_through_the_forms(console_on: Console) -> None:
    console = console_on
    start = console.position()
    # 陈小峰 inspects 陶表印盲人按摩店 ...
    console.sign_in(CHEN_XIAOFENG)
    site = _site(console, "陶表印盲人按摩店")
    _, page = console.page(f"/ui/sites/{site}")
    location, page = _follow(
        console,
        console.send(page, f"/ui/sites/{site}/inspections", {"template_code": "epidemic-2022"}),
    )
    inspection = UUID(urlsplit(location).path.rsplit("/", 1)[1])
    items = get_template("epidemic-2022").item_codes
    # The mask item last, as in the seed: the failure is what the walk goes on with.
    for code in sorted(items, key=lambda code: code == "mask"):
        action = f"/ui/inspections/{inspection}/items/{code}"
        if code == "mask":
            response = console.send(
                page,
                action,
                {"result": "fail", "note": "按摩师口罩未遮住口鼻"},
                files={"photos": PHOTO},
            )
        else:
            response = console.send(page, action, {"result": "pass"})
        location, page = _follow(console, response)
    # ... fails the mask item with a photo, which goes on to the hazard report.
    query = parse_qs(urlsplit(location).query)
    assert query["report"] == ["mask"] and len(query["photo"][0]) == 64
    assert query["after"][0].isdigit() and urlsplit(location).fragment == "report-hazard"
    report = console.form(page, f"/ui/inspections/{inspection}/hazards")
    assert report.find("select").find("option", selected=True)["value"] == "mask"
    location, page = _follow(
        console,
        console.send(
            page,
            f"/ui/inspections/{inspection}/hazards",
            {"category": "口罩佩戴", "description": "按摩师口罩佩戴不规范", "severity": "general"},
        ),
    )
    case = UUID(location.split("?")[0].rsplit("/", 1)[1])
    assert console.rectify.get_hazard(case).evidence[0].name == "口罩.jpg"
    # The inspection is complete once every item is recorded.
    _, inspection_page = console.page(f"/ui/inspections/{inspection}")
    _follow(console, console.send(inspection_page, f"/ui/inspections/{inspection}/complete"))
    assert console.rectify.get_inspection(inspection).status == "completed"
    # The order: the default deadline is shown, and it names 陶表印's account.
    deadline = page.find("input", attrs={"name": "deadline"})
    assert deadline["value"] and "默认" in deadline.find_next(class_="hint").get_text()
    location, page = _follow(
        console,
        console.send(
            page,
            f"/ui/cases/{case}/orders",
            {
                "party_name": "陶表印",
                "party_contact": "0791-8330 0001",
                "party_user_id": TAO_BIAOYIN.user_id,
                "measures": "按摩师全程规范佩戴口罩",
            },
        ),
    )
    order = UUID(location.split("?")[0].rsplit("/", 1)[1])

    # 陶表印 acknowledges, then reports completion with a photo.
    console.sign_in(TAO_BIAOYIN)
    _, page = console.page(f"/ui/orders/{order}")
    _, page = _follow(console, console.send(page, f"/ui/orders/{order}/acknowledge"))
    _follow(
        console,
        console.send(
            page,
            f"/ui/orders/{order}/completion",
            {"note": "已配发口罩"},
            files={"photos": PHOTO},
        ),
    )

    # 陈小峰 re-inspects: failed once ...
    console.sign_in(CHEN_XIAOFENG)
    _, page = console.page(f"/ui/cases/{case}")
    _follow(
        console,
        console.send(
            page, f"/ui/cases/{case}/verifications", {"passed": "no", "findings": "仍有人未戴"}
        ),
    )
    assert console.rectify.get_order(order).status == "acknowledged"
    console.sign_in(TAO_BIAOYIN)
    _, page = console.page(f"/ui/orders/{order}")
    _follow(console, console.send(page, f"/ui/orders/{order}/completion", {"note": "再次培训"}))
    # ... then passed.
    console.sign_in(CHEN_XIAOFENG)
    _, page = console.page(f"/ui/cases/{case}")
    assert page.find("form", attrs={"action": f"/ui/cases/{case}/close"}) is None
    _follow(
        console,
        console.send(
            page, f"/ui/cases/{case}/verifications", {"passed": "yes", "findings": "合格"}
        ),
    )
    assert console.rectify.get_hazard(case).status == "verified"

    # 张铭 closes it, signing with his password; the meaning is shown before he signs.
    console.sign_in(ZHANG_MING)
    _, page = console.page(f"/ui/cases/{case}")
    assert "closed as rectified" in page.select_one("#close-meaning").get_text()
    _follow(
        console,
        console.send(
            page, f"/ui/cases/{case}/close", {"reason": "复查合格", "password": ZHANG_MING.password}
        ),
    )
    hazard = console.rectify.get_hazard(case)
    assert hazard.status == "closed"
    events = console.events_since(start)
    assert events.count("Inspection.ItemRecorded") == len(items)
    assert events.count("Verification.Performed") == 2
    assert events[-1] == "Hazard.Closed"

    # The auditor reads the timeline and the case as it stood before the close.
    console.sign_in(AUDITOR)
    _, page = console.page(f"/ui/cases/{case}")
    assert "签字销号" in page.select("#timeline li")[-1].get_text()
    _, page = console.page(f"/ui/cases/{case}/as-of?version={hazard.version - 1}")
    assert page.select_one("#as-of-status")["data-status"] == "verified"
    assert page.find("a", attrs={"rel": "next"})["href"] == f"?version={hazard.version}"


def test_a_wrong_signature_password_is_refused_beside_the_field(console: Console) -> None:
    case = console.case_in("verified")
    console.sign_in(ZHANG_MING)
    _, page = console.page(f"/ui/cases/{case}")
    before = console.position()
    response = console.send(
        page, f"/ui/cases/{case}/close", {"reason": "复查合格", "password": "not-his-password"}
    )
    assert response.status_code == 403
    shown = parse(response)
    error = shown.select_one("#close-password-error")
    assert error is not None and "密码不正确" in error.get_text()
    assert shown.select_one("#close-password")["aria-invalid"] == "true"
    # The reason typed is kept; the password is not echoed back.
    assert shown.select_one("#close-reason").get_text() == "复查合格"
    assert shown.select_one("#close-password").get("value") in (None, "")
    assert console.position() == before
    assert console.rectify.get_hazard(case).status == "verified"


def test_a_rule_error_is_shown_beside_its_field_in_english(console: Console) -> None:
    case = console.case_in("verified")
    console.sign_in(ZHANG_MING)
    console.client.cookies.set("rectify_lang", "en")
    _, page = console.page(f"/ui/cases/{case}")
    before = console.position()
    response = console.send(
        page, f"/ui/cases/{case}/close", {"reason": "", "password": ZHANG_MING.password}
    )
    assert response.status_code == 422
    error = parse(response).select_one("#close-reason-error")
    assert error is not None and error.get_text() == "This field is required."
    assert console.position() == before


def test_a_stale_form_says_who_changed_what_and_keeps_the_input(console: Console) -> None:
    case = console.case_in("rectifying")
    # Two supervisors open the same case; 于建明 re-grades it first.
    console.sign_in(ZHANG_MING)
    _, first_tab = console.page(f"/ui/cases/{case}")
    other = console.another_browser()
    console.sign_in(YU_JIANMING, other)
    _, second_tab = console.page(f"/ui/cases/{case}", other)
    severity = "major" if console.rectify.get_hazard(case).severity == "general" else "general"
    response = console.send(
        second_tab,
        f"/ui/cases/{case}/regrade",
        {"severity": severity, "reason": "复核后调整"},
        client=other,
    )
    assert response.status_code == 303
    version = console.rectify.get_hazard(case).version
    before = console.position()
    # 张铭's form was based on the version before: refused, told, nothing overwritten.
    response = console.send(first_tab, f"/ui/cases/{case}/dismiss", {"reason": "我的撤销理由"})
    assert response.status_code == 409
    page = parse(response)
    stale = page.select_one(".stale")
    assert stale is not None and "于建明" in stale.get_text()
    assert page.select_one("#dismiss-reason").get_text() == "我的撤销理由"
    assert console.position() == before
    hazard = console.rectify.get_hazard(case)
    assert hazard.version == version and hazard.severity == severity


def test_a_form_sent_twice_records_once(console_on: Console) -> None:
    console = console_on
    order = next(
        o for o in console.demo.order_ids if console.rectify.get_order(o).status == "issued"
    )
    console.sign_in(CHEN_XIAOFENG)
    _, page = console.page(f"/ui/orders/{order}")
    before = console.position()
    first = console.send(page, f"/ui/orders/{order}/acknowledge")
    second = console.send(page, f"/ui/orders/{order}/acknowledge")
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert console.events_since(before) == ["RectificationOrder.Acknowledged"]


def test_the_page_after_a_change_reads_its_own_write(console: Console) -> None:
    case = console.case_in("verified")
    console.sign_in(ZHANG_MING)
    _, page = console.page(f"/ui/cases/{case}")
    response = console.send(
        page, f"/ui/cases/{case}/close", {"reason": "复查合格", "password": ZHANG_MING.password}
    )
    assert "after=" in response.headers["location"]
    # The work list read through the read models, waiting for that position.
    _, home = console.page(f"/?{response.headers['location'].split('?')[1]}")
    closable = [a["href"] for a in home.select("ul[data-queue=awaiting-closure] a")]
    assert f"/ui/cases/{case}" not in closable


def test_only_the_actions_the_viewer_may_take_now_are_offered(console: Console) -> None:
    verified = console.case_in("verified")
    offered = {}
    for who in (CHEN_XIAOFENG, ZHANG_MING, AUDITOR):
        console.sign_in(who)
        _, page = console.page(f"/ui/cases/{verified}")
        offered[who.user_id] = {
            form["action"].rsplit("/", 1)[1] for form in page.select("details.action form")
        }
    assert offered["zhangming"] == {"close"}
    assert offered["chenxiaofeng"] == set()
    assert offered["auditor"] == set()
