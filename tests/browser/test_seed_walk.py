"""The seed story's case, walked in a real browser by the people who lived it.

陈小峰 registers 陶表印's shop, inspects it on the 2022 epidemic checklist, fails
the visitor register with a photo, reports the hazard and issues the order;
陶表印 acknowledges it and reports completion with a photo; 陈小峰 re-inspects,
fails it once, then passes it; 张铭 closes the case with his password; the
auditor 刘芳 finds the case, reads its timeline and looks at it as it stood just
before it was closed.

In Chinese on a 390×844 phone and on a desktop, and in English; every person in
a browser profile of their own. Each step asserts what the person sees; the end
asserts what the log recorded, through the JSON API.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from application.demo import AUDITOR, CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING, DemoUser
from domain.checklists import EPIDEMIC_2022, get_template
from tests.browser.conftest import Profiles
from tests.browser.console import (
    action_form,
    heading,
    horizontal_overflow,
    photo_file,
    sign_in,
)
from tests.browser.server import ConsoleServer
from tests.browser.words import LOCALES, WORDS

FAILED_ITEM = "visitor-register"


class Walk:
    """One run of the walk: a language, a screen, and names of its own."""

    def __init__(
        self, profiles: Profiles, server: ConsoleServer, language: str, phone: bool, tag: str
    ) -> None:
        self.profiles = profiles
        self.server = server
        self.words: Mapping[str, str] = WORDS[language]
        self.language = language
        self.phone = phone
        self.site_name = f"陶表印盲人按摩店（{tag}）"
        self.description = f"未落实进出人员信息登记（{tag}）"
        self.pages_seen = 0

    def person(self, user: DemoUser) -> Page:
        """A browser profile of the person's own, signed in."""
        context = self.profiles.open(self.server, phone=self.phone, locale=LOCALES[self.language])
        page = context.new_page()
        sign_in(page, user, self.words)
        self.looked_at(page)
        return page

    def looked_at(self, page: Page) -> None:
        """Every page of the walk fits a phone's width: no horizontal scrolling."""
        self.pages_seen += 1
        if self.phone:
            assert horizontal_overflow(page) == 0, f"{page.url} scrolls sideways on a phone"

    def status(self, page: Page, element_id: str, key: str) -> None:
        expect(page.locator(f"#{element_id}")).to_have_text(self.words[key])
        self.looked_at(page)


def walk_the_seed_story(walk: Walk) -> None:
    w = walk.words
    template = get_template(EPIDEMIC_2022)

    # -- 陈小峰 at the shop door ------------------------------------------------------------
    inspector = walk.person(CHEN_XIAOFENG)
    inspector.get_by_role("link", name=w["Find or register a site"]).click()
    register = action_form(inspector, w["Register a site"])
    register.get_by_label(w["Name"], exact=True).fill(walk.site_name)
    register.get_by_label(w["Region"], exact=True).fill("安义县")
    register.get_by_label(w["Operator"], exact=True).fill("陶表印")
    register.get_by_label(w["Contact"], exact=True).fill("0791-83421001")
    register.get_by_role("button", name=w["Register"], exact=True).click()
    expect(heading(inspector)).to_have_text(walk.site_name)
    walk.looked_at(inspector)

    inspector.get_by_label(w["Checklist"], exact=True).select_option(EPIDEMIC_2022)
    inspector.get_by_role("button", name=w["Open the inspection"], exact=True).click()
    expect(heading(inspector)).to_have_text(f"{w['Inspection']} · {walk.site_name}")
    walk.looked_at(inspector)

    # The failed item last: failing one takes him straight to its hazard report.
    items = sorted(template.items, key=lambda item: item.code == FAILED_ITEM)
    for item in items:
        label = item.zh if walk.language == "zh" else item.en
        row = inspector.locator(f"li[data-item='{item.code}']")
        form = row.locator("form")
        failed = item.code == FAILED_ITEM
        form.get_by_role("group", name=f"{w['Result']}: {label}").get_by_label(
            w["fail"] if failed else w["pass"], exact=True
        ).check()
        if failed:
            form.get_by_label(w["Note"], exact=True).fill(walk.description)
            form.get_by_label(w["Photos"], exact=True).set_input_files(
                photo_file("visitor-register.png")
            )
        form.get_by_role("button", name=w["Record"], exact=True).click()
        expect(inspector.locator(f"li[data-item='{item.code}']")).to_contain_text(
            w["fail"] if failed else w["pass"]
        )
    walk.looked_at(inspector)

    # The failed item leads to its hazard report, its note and photo carried over.
    report = inspector.locator("#report-hazard form")
    expect(report).to_be_visible()
    expect(report.get_by_text(f"{w['Photo attached']}: visitor-register.png")).to_be_visible()
    expect(report.get_by_label(w["Description"], exact=True)).to_have_value(walk.description)
    report.get_by_label(w["Location"], exact=True).fill("前台")
    report.get_by_role("button", name=w["Report the hazard"], exact=True).click()
    expect(heading(inspector)).to_have_text(f"{w['Case']}: {walk.description}")
    walk.status(inspector, "case-status", "reported")
    case_path = urlsplit(inspector.url).path
    case_id = case_path.rsplit("/", 1)[-1]

    # Every item is recorded: he completes the inspection, found again through the site.
    inspector.get_by_role("link", name=walk.site_name, exact=True).click()
    inspector.get_by_role("link", name=w["Inspection"]).first.click()
    inspector.get_by_role("button", name=w["Complete the inspection"], exact=True).click()
    walk.status(inspector, "inspection-status", "completed")
    inspector.goto(case_path)

    issue = action_form(inspector, w["Issue a rectification order"])
    issue.get_by_label(w["Responsible party"], exact=True).fill("陶表印")
    issue.get_by_label(w["Contact"], exact=True).fill("0791-83421001")
    issue.get_by_label(w["Their account (if they have one)"]).select_option(TAO_BIAOYIN.user_id)
    issue.get_by_label(w["Required measures"], exact=True).fill("建立进出人员信息登记簿，逐一登记")
    issue.get_by_role("button", name=w["Issue the order"], exact=True).click()
    walk.status(inspector, "order-status", "issued")
    order_number = heading(inspector).inner_text().split()[-1]

    # -- 陶表印, the shop owner -------------------------------------------------------------
    party = walk.person(TAO_BIAOYIN)
    party.get_by_role("link", name=walk.description).first.click()
    walk.status(party, "case-status", "rectifying")
    party.get_by_role("link", name=f"{w['Order']} {order_number}").click()
    action_form(party, w["Acknowledge the order"]).get_by_role(
        "button", name=w["Acknowledge"], exact=True
    ).click()
    walk.status(party, "order-status", "acknowledged")
    complete = action_form(party, w["Report completion"])
    complete.get_by_label(w["What was done"], exact=True).fill("已建立登记簿")
    complete.get_by_label(w["Photos"], exact=True).set_input_files(photo_file("登记簿.png"))
    complete.get_by_role("button", name=w["Report completion"], exact=True).click()
    walk.status(party, "order-status", "completion reported")

    # -- 陈小峰 re-inspects: not yet ----------------------------------------------------------
    verify_from_work_list(walk, inspector, passed=False, findings="登记簿只记录了姓名，缺联系方式")
    walk.status(inspector, "case-status", "rectifying")

    party.reload()
    complete = action_form(party, w["Report completion"])
    complete.get_by_label(w["What was done"], exact=True).fill("已补登联系方式")
    complete.get_by_label(w["Photos"], exact=True).set_input_files(photo_file("补登.png"))
    complete.get_by_role("button", name=w["Report completion"], exact=True).click()
    walk.status(party, "order-status", "completion reported")

    # -- … and then it passes ----------------------------------------------------------------
    verify_from_work_list(walk, inspector, passed=True, findings="登记簿完整")
    walk.status(inspector, "case-status", "verified")

    # -- 张铭 signs the closing ----------------------------------------------------------------
    supervisor = walk.person(ZHANG_MING)
    supervisor.get_by_role("region", name=w["Verified cases awaiting closure"]).get_by_role(
        "link", name=walk.description
    ).click()
    walk.status(supervisor, "case-status", "verified")
    version_before_closing = case_version(walk.server, case_id)
    close = action_form(supervisor, w["Close the case (销号), signed"])
    # The meaning of the signature is shown before he signs.
    expect(close).to_contain_text(w["signature meaning"].format(name=ZHANG_MING.name))
    close.get_by_label(w["Reason"], exact=True).fill("复查合格，准予销号")
    close.get_by_label(w["Your password (signature)"], exact=True).fill(ZHANG_MING.password)
    close.get_by_role("button", name=w["Sign and close"], exact=True).click()
    walk.status(supervisor, "case-status", "closed")

    # -- 刘芳, the auditor ---------------------------------------------------------------------
    auditor = walk.person(AUDITOR)
    auditor.get_by_role("link", name=w["Search cases"], exact=True).click()
    auditor.get_by_role("checkbox", name=w["closed"], exact=True).check()
    auditor.get_by_role("button", name=w["Search"], exact=True).click()
    auditor.get_by_role("link", name=walk.description).click()
    walk.status(auditor, "case-status", "closed")
    timeline = auditor.locator("#timeline")
    expect(timeline).to_contain_text(w["timeline: verification failed"])
    expect(timeline).to_contain_text(w["timeline: closed"])
    auditor.get_by_role("link", name=w["The case as it stood at a time or version"]).click()
    auditor.get_by_label(w["Version of the case"], exact=True).fill(str(version_before_closing))
    auditor.get_by_role("button", name=w["Show"], exact=True).first.click()
    expect(auditor.locator("#as-of-version")).to_have_text(str(version_before_closing))
    walk.status(auditor, "as-of-status", "verified")

    # -- what the log recorded ---------------------------------------------------------------
    recorded = [e["event_type"] for e in walk.server.log_entries(aggregate=case_id)]
    assert recorded == [
        "Hazard.Reported",
        "Hazard.OrderIssued",
        "Hazard.CompletionReported",
        "Hazard.VerificationFailed",
        "Hazard.CompletionReported",
        "Hazard.VerificationPassed",
        "Hazard.Closed",
    ]
    case = walk.server.api_get(f"/cases/{case_id}")
    assert case["status"] == "closed"
    assert [e["name"] for e in case["evidence"]] == ["visitor-register.png"]
    assert case["orders"][0]["number"] == order_number
    assert case["orders"][0]["status"] == "fulfilled"


def verify_from_work_list(walk: Walk, inspector: Page, *, passed: bool, findings: str) -> None:
    """陈小峰 finds the completion report in his work list and records his verification."""
    w = walk.words
    inspector.goto("/")
    inspector.get_by_role("region", name=w["Completion reports awaiting verification"]).get_by_role(
        "link", name=walk.description
    ).click()
    walk.status(inspector, "case-status", "awaiting verification")
    verify = action_form(inspector, w["Verify the rectification (re-inspection)"])
    verify.get_by_label(w["passed"] if passed else w["failed"], exact=True).check()
    verify.get_by_label(w["Findings"], exact=True).fill(findings)
    verify.get_by_role("button", name=w["Record the verification"], exact=True).click()


def case_version(server: ConsoleServer, case_id: str) -> int:
    """The case's version now, as the API reports it."""
    version: int = server.api_get(f"/cases/{case_id}")["version"]
    return version


@pytest.mark.parametrize(
    ("language", "phone"),
    [
        pytest.param("zh", True, id="zh-phone"),
        pytest.param("zh", False, id="zh-desktop"),
        pytest.param("en", False, id="en-desktop"),
    ],
)
def test_seed_walk(profiles: Profiles, console: ConsoleServer, language: str, phone: bool) -> None:
    tag = f"{language}-{'phone' if phone else 'desk'}"
    walk_the_seed_story(Walk(profiles, console, language, phone, tag))


def test_seed_walk_on_postgresql(profiles: Profiles, postgres_console: ConsoleServer) -> None:
    """The same walk against a server on PostgreSQL, the production store."""
    walk_the_seed_story(Walk(profiles, postgres_console, "zh", False, tag="pg"))
