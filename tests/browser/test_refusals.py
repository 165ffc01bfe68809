"""What a person is told, in the browser, when the console refuses their form.

Two tabs on one case: the second tab's form was based on a version that is no
longer the case's; it is told who changed what, keeps what was typed, and
nothing is overwritten. A wrong password as a signature: refused beside the
field, nothing recorded.
"""

from __future__ import annotations

from playwright.sync_api import expect

from application.demo import ZHANG_MING
from tests.browser.conftest import Profiles
from tests.browser.console import action_form, sign_in
from tests.browser.server import ConsoleServer, reported_case, verified_case
from tests.browser.words import LOCALES, WORDS


def test_two_tabs_on_one_case_the_second_is_told_and_nothing_is_overwritten(
    profiles: Profiles, console: ConsoleServer
) -> None:
    w = WORDS["zh"]
    case_id = reported_case(console, "康顺盲人按摩店（两个标签页）", "未测体温（两个标签页）")
    context = profiles.open(console, phone=False, locale=LOCALES["zh"])
    first = context.new_page()
    sign_in(first, ZHANG_MING, w)
    second = context.new_page()
    for tab in (first, second):
        tab.goto(f"/ui/cases/{case_id}")
        expect(tab.locator("#case-status")).to_have_text(w["reported"])
    before = [e["event_type"] for e in console.log_entries(aggregate=case_id)]

    # The first tab re-grades the hazard to major.
    regrade = action_form(first, w["Re-grade the severity"])
    regrade.get_by_label(w["Severity"], exact=True).select_option("major")
    regrade.get_by_label(w["Reason"], exact=True).fill("现场复核：涉及消防通道")
    regrade.get_by_role("button", name=w["Re-grade"], exact=True).click()
    expect(first.locator("[data-severity]")).to_have_text(w["major"])

    # The second tab, still showing the general hazard, dismisses it.
    dismiss = action_form(second, w["Dismiss: reported in error"])
    dismiss.get_by_label(w["Reason"], exact=True).fill("误报，已核实")
    dismiss.get_by_role("button", name=w["Dismiss the hazard"], exact=True).click()

    told = second.locator(".stale[role=alert]")
    expect(told).to_contain_text(w["Changed since you opened this page:"])
    expect(told).to_contain_text(ZHANG_MING.name)
    expect(told).to_contain_text(w["timeline: regraded"])
    expect(told).to_contain_text(w["Nothing was overwritten."])
    # What was typed is kept, to send again once checked against the change.
    kept = action_form(second, w["Dismiss: reported in error"])
    expect(kept.get_by_label(w["Reason"], exact=True)).to_have_value("误报，已核实")
    # … and the page now shows the case as it is.
    expect(second.locator("#case-status")).to_have_text(w["reported"])

    after = [e["event_type"] for e in console.log_entries(aggregate=case_id)]
    assert after == [*before, "Hazard.Regraded"]
    case = console.api_get(f"/cases/{case_id}")
    assert (case["status"], case["severity"]) == ("reported", "major")


def test_a_wrong_signature_password_is_refused_and_nothing_is_recorded(
    profiles: Profiles, console: ConsoleServer
) -> None:
    w = WORDS["zh"]
    case_id = verified_case(console, "万萍英按摩店（签名）", "未验行程码（签名）")
    context = profiles.open(console, phone=False, locale=LOCALES["zh"])
    page = context.new_page()
    sign_in(page, ZHANG_MING, w)
    page.goto(f"/ui/cases/{case_id}")
    expect(page.locator("#case-status")).to_have_text(w["verified"])
    log_before = console.log_entries()

    close = action_form(page, w["Close the case (销号), signed"])
    close.get_by_label(w["Reason"], exact=True).fill("复查合格，准予销号")
    close.get_by_label(w["Your password (signature)"], exact=True).fill("not-my-password")
    close.get_by_role("button", name=w["Sign and close"], exact=True).click()

    close = action_form(page, w["Close the case (销号), signed"])
    password = close.get_by_label(w["Your password (signature)"], exact=True)
    # Beside the field, in his language, and tied to it for a screen reader.
    error = close.locator(f"#{password.get_attribute('aria-describedby')}")
    expect(error).to_have_text(w["The password does not match yours; nothing was signed."])
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(close.get_by_label(w["Reason"], exact=True)).to_have_value("复查合格，准予销号")
    expect(page.locator("#case-status")).to_have_text(w["verified"])
    assert console.log_entries() == log_before
    assert console.api_get(f"/cases/{case_id}")["status"] == "verified"

    # With his own password the same form signs.
    password.fill(ZHANG_MING.password)
    close.get_by_role("button", name=w["Sign and close"], exact=True).click()
    expect(page.locator("#case-status")).to_have_text(w["closed"])
    added = console.log_entries()[len(log_before) :]
    assert [e["event_type"] for e in added if e["aggregate_id"] == case_id] == ["Hazard.Closed"]
