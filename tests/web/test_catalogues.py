"""Every string the console shows is in both catalogues, translated."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from interfaces.web.catalogues import extract, po_path
from interfaces.web.i18n import LANGUAGES, translations


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_string_shown_is_missing_from_a_catalogue(language: str) -> None:
    shown = {message.id for message in extract() if message.id}
    assert len(shown) > 150  # the extraction found the pages' strings at all
    with po_path(language).open("rb") as po_file:
        catalogue = read_po(po_file, locale=language)
    translated = {
        message.id
        for message in catalogue
        if message.id
        and not message.fuzzy
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    missing = sorted(str(m) for m in shown - translated)
    assert not missing, f"{language} lacks a translation of: {missing}"


def test_the_chinese_catalogue_is_chinese() -> None:
    chinese = translations("zh_CN")
    assert chinese.gettext("Sign in") == "登录"
    assert chinese.ngettext("%(num)d day overdue", "%(num)d days overdue", 3) == "逾期 %(num)d 天"


def test_placeholders_survive_translation() -> None:
    with po_path("zh_CN").open("rb") as po_file:
        catalogue = read_po(po_file, locale="zh_CN")
    for message in catalogue:
        if not message.id:
            continue
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        target = message.string[0] if isinstance(message.string, tuple) else message.string
        for placeholder in ("%(num)d", "%(name)s", "%(date)s", "%(p)s", "%(rule)s"):
            assert (placeholder in source) == (placeholder in target), (source, target)
