"""Language and keyboard, as a person meets them in the browser.

A Chinese browser gets the Chinese sign-in page; the English link switches the
console to English and the choice is kept across pages and a new tab. Signing
in and opening the work list work with the keyboard alone.
"""

from __future__ import annotations

from playwright.sync_api import expect

from application.demo import CHEN_XIAOFENG
from tests.browser.conftest import Profiles
from tests.browser.console import heading, sign_in
from tests.browser.server import ConsoleServer
from tests.browser.words import CHINESE, ENGLISH, LOCALES


def test_chinese_first_english_on_request_and_the_choice_kept(
    profiles: Profiles, console: ConsoleServer
) -> None:
    context = profiles.open(console, phone=True, locale=LOCALES["zh"])
    page = context.new_page()
    page.goto("/")
    expect(heading(page)).to_have_text(CHINESE["Sign in"])
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    page.get_by_role("link", name="English").click()
    expect(heading(page)).to_have_text(ENGLISH["Sign in"])
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in(page, CHEN_XIAOFENG, ENGLISH)
    expect(page.get_by_role("link", name=ENGLISH["Find or register a site"])).to_be_visible()

    # A new tab of the same browser, which still asks for Chinese, stays in English.
    other = context.new_page()
    other.goto("/ui/sites")
    expect(heading(other)).to_have_text(ENGLISH["Sites"])

    # And back.
    other.get_by_role("link", name="中文").click()
    expect(heading(other)).to_have_text(CHINESE["Sites"])
    page.reload()
    expect(heading(page)).to_have_text(f"{CHINESE['Work list']} · {CHEN_XIAOFENG.name}")


def test_signing_in_and_moving_about_with_the_keyboard_alone(
    profiles: Profiles, console: ConsoleServer
) -> None:
    context = profiles.open(console, phone=False, locale=LOCALES["zh"])
    page = context.new_page()
    page.goto("/")
    user_id = page.get_by_label(CHINESE["User id"])
    password = page.get_by_label(CHINESE["Password"], exact=True)
    user_id.focus()
    page.keyboard.type(CHEN_XIAOFENG.user_id)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(CHEN_XIAOFENG.password)
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text(f"{CHINESE['Work list']} · {CHEN_XIAOFENG.name}")

    # The first Tab reaches the skip link, which takes the focus to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=CHINESE["Skip to content"])
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # From there, Tab reaches the site finder and Enter follows it.
    finder = page.get_by_role("link", name=CHINESE["Find or register a site"])
    for _ in range(5):
        page.keyboard.press("Tab")
        if finder.evaluate("element => element === document.activeElement"):
            break
    expect(finder).to_be_focused()
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text(CHINESE["Sites"])
