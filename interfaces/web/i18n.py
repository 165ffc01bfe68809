"""The console's languages: Chinese first, English complete (Babel, gettext).

The catalogues are ``locale/<lang>/LC_MESSAGES/messages.po``; they are compiled
in memory when the console starts, so no compiled ``.mo`` file can fall out of
step with its ``.po``. The language is the ``rectify_lang`` cookie if set, else
the best match of ``Accept-Language``, else Chinese. Dates and numbers are
formatted per language, times in the service's ``TIME_ZONE``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.core import negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("zh_CN", "en")
"""The console's languages; the first is the default."""
DEFAULT_LANGUAGE = LANGUAGES[0]
LANGUAGE_COOKIE = "rectify_lang"
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


@cache
def translations(language: str) -> Translations:
    """The compiled catalogue of ``language`` (one of :data:`LANGUAGES`)."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def language_for(request: Request) -> str:
    """The cookie's language, else the best of ``Accept-Language``, else Chinese."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("accept-language", "")
    preferred = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            preferred.append((quality, tag.replace("-", "_")))
    ordered = [tag for _, tag in sorted(preferred, key=lambda p: -p[0])]
    # The catalogue's own name is returned (never Babel's "zh_Hans_CN").
    found = negotiate_locale(ordered, list(LANGUAGES), sep="_") if ordered else None
    if found is None or found not in LANGUAGES:
        # "zh-TW" or "zh" still reads Chinese before English.
        for tag in ordered:
            for language in LANGUAGES:
                if tag.split("_")[0].lower() == language.split("_")[0]:
                    return language
        return DEFAULT_LANGUAGE
    return found


@dataclass(frozen=True)
class Formatter:
    """Dates, times and numbers as a person of ``language`` reads them, in ``zone``."""

    language: str
    zone: ZoneInfo

    def datetime(self, value: datetime | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return format_datetime(value, "medium", tzinfo=self.zone, locale=self.language)

    def date(self, value: date | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return format_date(value, "medium", locale=self.language)

    def number(self, value: float | int | None) -> str:
        return "" if value is None else format_decimal(value, locale=self.language)

    def percent(self, value: float | None) -> str:
        return "" if value is None else format_percent(value, locale=self.language)
