"""Keeping the console's message catalogues complete.

``python -m interfaces.web.catalogues`` extracts every string the console
shows (``_()``, ``ngettext()`` and ``N_()`` in its Python files and templates)
and merges them into ``locale/<lang>/LC_MESSAGES/messages.po``: new strings
arrive with an empty translation to fill in (English, whose message ids are the
English text, gets them filled at once), strings no longer used are dropped.
The test suite fails while any translation is missing.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from interfaces.web.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

WEB_DIR = Path(__file__).parent
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
# The English catalogue's message ids are the English text itself.
SOURCE_LANGUAGE = "en"


def extract() -> Catalog:
    """Every string the console shows, as a template catalogue."""
    template = Catalog(domain=DOMAIN)
    for filename, lineno, message, comments, _context in extract_from_dir(
        WEB_DIR,
        method_map=METHODS,
        options_map=OPTIONS,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments)
    return template


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def update() -> None:
    """Merge the extracted strings into each language's catalogue."""
    template = extract()
    for language in LANGUAGES:
        path = po_path(language)
        with path.open("rb") as existing:
            catalog = read_po(existing, locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project, catalog.version = "rectify", "console"
        catalog.msgid_bugs_address = catalog.last_translator = "rectify"
        catalog.language_team = language
        catalog.obsolete.clear()
        if language == SOURCE_LANGUAGE:
            for message in catalog:
                if isinstance(message.id, tuple):
                    if not all(message.string or ()):
                        message.string = message.id
                elif message.id and not message.string:
                    message.string = message.id
        with path.open("wb") as out:
            write_po(out, catalog, width=100, omit_header=False, include_lineno=False)


if __name__ == "__main__":
    update()
