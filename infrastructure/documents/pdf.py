"""Documents as PDF: Jinja2 HTML templates rendered by WeasyPrint, and the
machine-readable record embedded in (and read back from) each PDF.

The record — kind, subject, log position, hash-chain head, content and its
digest (:meth:`application.documents.Document.record`) — is attached to the PDF
as the embedded file :data:`RECORD_NAME`; the position and head are also
printed on every page and in the PDF's keywords, for a reader without tools.

The fonts are named in the CSS (``Noto Serif CJK SC``, Debian's
``fonts-noto-cjk``) and embedded as subsets by WeasyPrint.
"""

from __future__ import annotations

import io
import json
import logging
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape

from application.documents import Document, DocumentKind
from domain.errors import InvalidCommand
from infrastructure.documents.texts import LANGUAGES, Texts

RECORD_NAME = "rectify-document.json"
"""The embedded file that carries a document's record."""

_TEMPLATES = {DocumentKind.NOTICE: "notice.html.j2", DocumentKind.RECORD: "record.html.j2"}

# WeasyPrint reports every font feature it cannot map at WARNING; those say
# nothing about the document.
logging.getLogger("fontTools").setLevel(logging.ERROR)


def _template_text(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_template_text),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(document: Document, *, lang: str = "zh", issuing_unit: str = "") -> str:
    """The document as HTML, in ``lang`` (``zh`` or ``en``)."""
    if lang not in LANGUAGES:
        raise InvalidCommand(f"no documents in {lang!r}; choose zh or en", rule="language_invalid")
    template = _environment().get_template(_TEMPLATES[document.kind])
    return template.render(
        doc=document,
        c=document.content,
        t=Texts(lang),
        lang=lang,
        issuing_unit=issuing_unit,
        css=_template_text("base.css"),
    )


def render_pdf(document: Document, *, lang: str = "zh", issuing_unit: str = "") -> bytes:
    """The document as an A4 PDF with its record embedded."""
    # WeasyPrint loads pango through cffi on import: only rendering needs it.
    from weasyprint import HTML, Attachment

    html = render_html(document, lang=lang, issuing_unit=issuing_unit)
    record = json.dumps(document.record(), ensure_ascii=False, sort_keys=True, indent=1)
    pdf: bytes = HTML(string=html).write_pdf(
        attachments=[
            Attachment(
                string=record,
                name=RECORD_NAME,
                description="rectify: log position, hash-chain head and content of this document",
            )
        ],
    )
    return pdf


def read_record(pdf: bytes) -> dict[str, Any]:
    """The record embedded in a document's PDF; refuse anything else, saying why."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(pdf))
        attachments = reader.attachments
        contents = attachments.get(RECORD_NAME) if RECORD_NAME in attachments else None
    except Exception as error:
        # Whatever was uploaded is parsed here; a malformed file makes the parser
        # fail in many ways (not only its own errors), each meaning "not a PDF".
        raise InvalidCommand(
            f"this is not a readable PDF: {error}", rule="document_not_pdf"
        ) from None
    if not contents:
        raise InvalidCommand(
            f"this PDF carries no {RECORD_NAME}: it was not made by rectify, or the record "
            "was removed",
            rule="document_record_missing",
        )
    try:
        record = json.loads(contents[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidCommand(
            f"the PDF's {RECORD_NAME} is not JSON", rule="document_record_invalid"
        ) from None
    if not isinstance(record, dict):
        raise InvalidCommand(
            f"the PDF's {RECORD_NAME} is not a JSON object", rule="document_record_invalid"
        )
    return record
