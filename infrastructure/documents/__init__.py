"""Documents rendered: PDFs of notices and verification records, the ledger as
a workbook or CSV. The document service itself is built by
:mod:`infrastructure.composition`."""

from __future__ import annotations

import os

from application.app import RectifyApp

ISSUING_UNIT_SETTING = "RECTIFY_ISSUING_UNIT"
"""The unit printed at the head of notices and records (发文单位), e.g. 安义县残疾人联合会."""


def issuing_unit(app: RectifyApp) -> str:
    """The issuing unit: the application setting, else the environment, else none."""
    return (app.env.get(ISSUING_UNIT_SETTING) or os.environ.get(ISSUING_UNIT_SETTING, "")).strip()
