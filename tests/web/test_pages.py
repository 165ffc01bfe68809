"""Each page for each role that may see it, and the 403 page (nothing recorded) for
each role that may not."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from application.demo import AUDITOR, CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING, DemoUser
from tests.web.conftest import Console

INSPECTOR, SUPERVISOR, PARTY = CHEN_XIAOFENG, ZHANG_MING, TAO_BIAOYIN
EVERYONE = (INSPECTOR, SUPERVISOR, PARTY, AUDITOR)
STAFF = (INSPECTOR, SUPERVISOR, AUDITOR)


def _party_case(c: Console) -> str:
    for hazard_id in c.demo.hazard_ids:
        hazard = c.rectify.get_hazard(hazard_id)
        if any(c.rectify.get_order(o).party.is_account(PARTY.user_id) for o in hazard.order_ids):
            return str(hazard_id)
    raise LookupError("no case of the party's")


def _other_case(c: Console) -> str:
    for hazard_id in c.demo.hazard_ids:
        hazard = c.rectify.get_hazard(hazard_id)
        if not any(
            c.rectify.get_order(o).party.is_account(PARTY.user_id) for o in hazard.order_ids
        ):
            return str(hazard_id)
    raise LookupError("no case of another party's")


def _order(c: Console, mine: bool) -> str:
    for order_id in c.demo.order_ids:
        if c.rectify.get_order(order_id).party.is_account(PARTY.user_id) == mine:
            return str(order_id)
    raise LookupError(mine)


# path (given the console) -> who may see it; everyone else gets the 403 page.
PAGES: dict[str, tuple[Callable[[Console], str], tuple[DemoUser, ...], str]] = {
    "home": (lambda c: "/", EVERYONE, "h1"),
    "sites": (lambda c: "/ui/sites", STAFF, "#sites"),
    "site": (lambda c: f"/ui/sites/{c.demo.site_ids[0]}", STAFF, ".timeline"),
    "inspection": (lambda c: f"/ui/inspections/{c.demo.inspection_ids[0]}", STAFF, "#checklist"),
    "own case": (lambda c: f"/ui/cases/{_party_case(c)}", EVERYONE, "#timeline"),
    "another party's case": (lambda c: f"/ui/cases/{_other_case(c)}", STAFF, "#timeline"),
    "own order": (lambda c: f"/ui/orders/{_order(c, True)}", EVERYONE, "#order-status"),
    "another party's order": (
        lambda c: f"/ui/orders/{_order(c, False)}",
        STAFF,
        "#order-status",
    ),
    "search": (lambda c: "/ui/search", STAFF, "#results"),
    "dashboard": (lambda c: "/ui/dashboard", STAFF, "svg.chart"),
    "as of": (
        lambda c: f"/ui/cases/{c.demo.hazard_ids[0]}/as-of?version=1",
        (SUPERVISOR, AUDITOR),
        "#as-of-state",
    ),
    "log": (lambda c: "/ui/audit/log", (SUPERVISOR, AUDITOR), "#log"),
    "integrity": (lambda c: "/ui/audit/integrity", (SUPERVISOR, AUDITOR), "#chain-head"),
}


@pytest.mark.parametrize("name", PAGES)
def test_each_page_for_each_role(console: Console, name: str) -> None:
    path_of, allowed, marker = PAGES[name]
    path = path_of(console)
    for who in EVERYONE:
        console.sign_in(who)
        before = console.position()
        status, page = console.page(path)
        if who in allowed:
            assert status == 200, (who.user_id, path)
            assert page.select_one(marker) is not None, (who.user_id, path, marker)
            # Every control has a label: an id'd <label for>, or a wrapping label.
            for control in page.select("input:not([type=hidden]), select, textarea"):
                labelled = (
                    control.get("id") and page.find("label", attrs={"for": control["id"]})
                ) or control.find_parent("label")
                assert labelled, (path, str(control)[:120])
        else:
            assert status == 403, (who.user_id, path, status)
            assert page.h1.get_text() == "无权操作"
        assert console.position() == before


def test_the_work_list_shows_the_roles_queues_with_counts(console: Console) -> None:
    console.sign_in(SUPERVISOR)
    _, page = console.page("/")
    queues = [ul["data-queue"] for ul in page.select("ul[data-queue]")]
    assert queues[:2] == ["awaiting-closure", "pending-extensions"]
    closure = page.select_one("#q-awaiting-closure .count").get_text()
    assert int(closure) == len(page.select("ul[data-queue=awaiting-closure] li")) >= 1
    console.sign_in(INSPECTOR)
    _, page = console.page("/")
    overdue = page.select("ul[data-queue=orders-overdue] li .deadline.overdue")
    assert overdue and "逾期" in overdue[0].get_text()
    console.sign_in(PARTY)
    _, page = console.page("/")
    assert [ul["data-queue"] for ul in page.select("ul[data-queue]")][-1] == "cases"
    # Only their own cases.
    for link in page.select("ul[data-queue=cases] a"):
        hazard = console.rectify.get_hazard(UUID(link["href"].rsplit("/", 1)[1]))
        orders = [console.rectify.get_order(o) for o in hazard.order_ids]
        assert any(o.party.is_account(PARTY.user_id) for o in orders)


def test_a_refused_command_shows_the_403_page_and_records_nothing(console: Console) -> None:
    verified = console.case_in("verified")
    console.sign_in(SUPERVISOR)
    _, page = console.page(f"/ui/cases/{verified}")
    form = console.fields(console.form(page, f"/ui/cases/{verified}/close"))
    for who in (INSPECTOR, AUDITOR, PARTY):
        console.sign_in(who)
        _, own = console.page("/")
        token = console.fields(console.form(own, "/ui/signout"))["csrf_token"]
        before = console.position()
        response = console.client.post(
            f"/ui/cases/{verified}/close",
            data={**form, "csrf_token": token, "reason": "复查合格", "password": who.password},
            headers={"Origin": "http://testserver"},
        )
        assert response.status_code == 403, who.user_id
        assert console.position() == before
    assert console.rectify.get_hazard(verified).status == "verified"


def test_an_unknown_record_is_the_console_404_page(console: Console) -> None:
    console.sign_in(INSPECTOR)
    status, page = console.page("/ui/cases/00000000-0000-4000-8000-000000000000")
    assert status == 404 and page.h1.get_text() == "未找到"
    status, page = console.page("/ui/cases/not-a-uuid")
    assert status == 404
    # The API's own paths keep their problem+json.
    api = console.client.get("/cases/00000000-0000-4000-8000-000000000000")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_sites_are_found_by_part_of_their_name(console: Console) -> None:
    console.sign_in(INSPECTOR)
    _, page = console.page("/ui/sites?q=陶表印")
    assert [a.get_text() for a in page.select("#sites a")] == ["陶表印盲人按摩店"]
    _, page = console.page("/ui/sites?q=100%_")
    assert page.select("#sites a") == []
    _, page = console.page("/ui/sites")
    assert len(page.select("#sites a")) == len(console.demo.site_ids)


def test_a_site_page_lists_its_open_inspections(console: Console) -> None:
    open_inspection = next(
        i for i in console.demo.inspection_ids if console.rectify.get_inspection(i).status == "open"
    )
    site = console.rectify.get_inspection(open_inspection).site_id
    console.sign_in(INSPECTOR)
    _, page = console.page(f"/ui/sites/{site}")
    links = [a["href"] for a in page.select("a[href^='/ui/inspections/']")]
    assert links == [f"/ui/inspections/{open_inspection}"]


def test_the_auditor_filters_the_log_and_exports_what_it_shows(console: Console) -> None:
    console.sign_in(AUDITOR)
    _, page = console.page(f"/ui/audit/log?actor={PARTY.user_id}")
    rows = page.select("#log tbody tr")
    assert rows and all(PARTY.name in row.get_text() for row in rows)
    links = {a.get_text(): a["href"] for a in page.select("a[download]")}
    assert set(links) == {"JSON Lines", "CSV"}
    csv = console.client.get(links["CSV"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("position,") and len(lines) == len(rows) + 1
    jsonl = console.client.get(links["JSON Lines"])
    assert len(jsonl.text.strip().splitlines()) == len(rows)
    # Exports are the auditor's and supervisors', as the log is.
    console.sign_in(PARTY)
    assert console.client.get(links["CSV"], follow_redirects=False).status_code == 403


def test_the_integrity_page_shows_the_chain_head_to_write_down(console: Console) -> None:
    console.sign_in(AUDITOR)
    _, page = console.page("/ui/audit/integrity")
    head = console.app.state.audit.verify().head
    assert page.select_one("#chain-head").get_text() == head.anchor
    assert page.select_one("[role=status]") is None  # not checked until asked
    _, page = console.page("/ui/audit/integrity?verify=1")
    assert page.select_one("#integrity-result[role=status]").get_text().startswith("日志完整")
    assert page.select_one("#chain-head").get_text() == head.anchor


def test_the_dashboard_draws_its_charts_on_the_server(console: Console) -> None:
    console.sign_in(SUPERVISOR)
    _, page = console.page("/ui/dashboard")
    charts = page.select("svg.chart[role=img]")
    assert len(charts) == 2
    for chart in charts:
        assert page.find(id=chart["aria-labelledby"]) is not None
        assert chart.select("rect")


def test_the_dashboard_follows_each_change(console: Console) -> None:
    def closed_bars(query: str = "") -> list[str]:
        _, page = console.page(f"/ui/dashboard{query}")
        chart = page.select_one("svg[aria-labelledby=by-severity-title]")
        return [t.get_text() for t in chart.select("rect title")]

    console.sign_in(SUPERVISOR)
    before = closed_bars()
    assert closed_bars() == before  # the same position: the same figures
    case = console.case_in("verified")
    _, page = console.page(f"/ui/cases/{case}")
    response = console.send(
        page, f"/ui/cases/{case}/close", {"reason": "复查合格", "password": SUPERVISOR.password}
    )
    after = "?" + response.headers["location"].split("?")[1]  # waits for the read models
    assert closed_bars(after) != before
