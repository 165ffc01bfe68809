"""Documents rendered: PDFs of notices and verification records, the ledger as
a workbook or CSV; and the document service of an application."""

from __future__ import annotations

import os

from application.app import RectifyApp
from application.documents import DocumentService
from infrastructure.audit import build_audit

ISSUING_UNIT_SETTING = "RECTIFY_ISSUING_UNIT"
"""The unit printed at the head of notices and records (发文单位), e.g. 安义县残疾人联合会."""


def build_documents(app: RectifyApp) -> DocumentService:
    """The document service of ``app``, over its audit service."""
    return DocumentService(build_audit(app))


def issuing_unit(app: RectifyApp) -> str:
    """The issuing unit: the application setting, else the environment, else none."""
    return (app.env.get(ISSUING_UNIT_SETTING) or os.environ.get(ISSUING_UNIT_SETTING, "")).strip()
