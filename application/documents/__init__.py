"""Documents (文书): the rectification notice (整改通知书) and the verification record
(复查意见) made from the log and checkable against it, and the hazard ledger
(隐患台账) made from the case search."""

from application.documents.content import Content, content_digest
from application.documents.ledger import LEDGER_COLUMNS, LedgerColumn, ledger_headers, ledger_row
from application.documents.service import (
    RECORD_FORMAT,
    ChainNotReady,
    CheckStatus,
    Document,
    DocumentCheck,
    DocumentKind,
    DocumentService,
    FieldDifference,
)

__all__ = [
    "LEDGER_COLUMNS",
    "RECORD_FORMAT",
    "ChainNotReady",
    "CheckStatus",
    "Content",
    "Document",
    "DocumentCheck",
    "DocumentKind",
    "DocumentService",
    "FieldDifference",
    "LedgerColumn",
    "content_digest",
    "ledger_headers",
    "ledger_row",
]
