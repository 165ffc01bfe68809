"""``rectify documents``: the rectification notice and verification record as PDF,
the hazard ledger as a workbook or CSV; and ``rectify audit check-document``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from application.app import RectifyApp
from application.documents import ChainNotReady, CheckStatus, DocumentService
from application.errors import ApplicationError
from application.projections.access import Scope
from domain.errors import DomainError
from domain.hazard import HazardStatus
from infrastructure.composition import Services
from infrastructure.documents import issuing_unit
from infrastructure.documents.ledger import write_csv, write_xlsx
from infrastructure.documents.pdf import read_record, render_pdf
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.queries import SORTS, CaseFilter
from interfaces.cli.options import DatabaseUrl, fail

app = typer.Typer(
    name="documents",
    help="Print a notice (整改通知书) or verification record (复查意见) as PDF; export the "
    "hazard ledger (隐患台账).",
    no_args_is_help=True,
)


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class LedgerFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


Lang = Annotated[Language, typer.Option("--lang", help="Language of the document.")]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Where to write it (default: a name in this directory)."),
]


@contextmanager
def open_documents(database_url: str | None) -> Iterator[tuple[RectifyApp, DocumentService]]:
    """The document service on ``database_url``; refusals become an error and exit 1."""
    with Services.open(database_url) as services:
        try:
            yield services.app, services.documents
        except (ApplicationError, DomainError) as error:
            raise fail(error.message) from None
        except ChainNotReady as error:
            raise fail(str(error)) from None


def _subject(value: str, what: str) -> UUID:
    try:
        return UUID(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a {what} id (a UUID)") from None


def _write(data: bytes, output: Path | None, default: str) -> Path:
    path = output or Path(default)
    path.write_bytes(data)
    return path


@app.command()
def notice(
    order: Annotated[str, typer.Argument(metavar="ORDER", help="The order's id or number.")],
    lang: Lang = Language.ZH,
    output: Output = None,
    database_url: DatabaseUrl = None,
) -> None:
    """整改通知书: write the order's rectification notice as a PDF."""
    with open_documents(database_url) as (rectify, documents):
        try:
            order_id = UUID(order.strip())
        except ValueError:
            order_id = documents.order_id_by_number(order.strip())
        document = documents.notice(order_id)
        pdf = render_pdf(document, lang=lang.value, issuing_unit=issuing_unit(rectify))
    path = _write(pdf, output, f"notice-{document.content['number']}.pdf")
    typer.echo(f"{path}  (log position {document.position}, chain head {document.chain_hash})")


@app.command()
def record(
    verification: Annotated[
        str, typer.Argument(metavar="VERIFICATION", help="The verification's id.")
    ],
    lang: Lang = Language.ZH,
    output: Output = None,
    database_url: DatabaseUrl = None,
) -> None:
    """复查意见: write the verification's record as a PDF."""
    verification_id = _subject(verification, "verification")
    with open_documents(database_url) as (rectify, documents):
        document = documents.verification_record(verification_id)
        pdf = render_pdf(document, lang=lang.value, issuing_unit=issuing_unit(rectify))
    path = _write(pdf, output, f"verification-{verification_id}.pdf")
    typer.echo(f"{path}  (log position {document.position}, chain head {document.chain_hash})")


@app.command()
def ledger(
    site_id: Annotated[str | None, typer.Option(help="A site's id.")] = None,
    region: Annotated[str | None, typer.Option()] = None,
    severity: Annotated[str | None, typer.Option(help="general or major.")] = None,
    status: Annotated[
        list[HazardStatus] | None, typer.Option(help="A case status; repeat for more.")
    ] = None,
    party: Annotated[
        str | None, typer.Option(help="Part of a responsible party's name, or their user id.")
    ] = None,
    reported_from: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")] = None,
    reported_to: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")] = None,
    closed_from: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")] = None,
    closed_to: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")] = None,
    sort: Annotated[str, typer.Option(help=f"One of: {', '.join(SORTS)}.")] = "reported_at",
    ascending: Annotated[bool, typer.Option("--ascending", help="Oldest first.")] = False,
    format: Annotated[LedgerFormat, typer.Option("--format")] = LedgerFormat.XLSX,
    lang: Lang = Language.ZH,
    output: Output = None,
    database_url: DatabaseUrl = None,
) -> None:
    """隐患台账: every case the search finds (the filters of GET /cases), one row each."""
    if severity is not None and severity not in ("general", "major"):
        raise typer.BadParameter("--severity is general or major")
    if sort not in SORTS:
        raise typer.BadParameter(f"--sort is one of {', '.join(SORTS)}")
    filters = CaseFilter(
        site_id=_subject(site_id, "site") if site_id else None,
        region=region,
        severity=severity,
        statuses=tuple(s.value for s in status or ()),
        party=party,
        reported_from=_day(reported_from, "--reported-from"),
        reported_to=_day(reported_to, "--reported-to"),
        closed_from=_day(closed_from, "--closed-from"),
        closed_to=_day(closed_to, "--closed-to"),
    )
    path = output or Path(f"hazard-ledger.{format.value}")
    with Services.open(database_url) as services:
        rectify = services.app
        # The read model is brought up to the log first: after `rectify demo`, or
        # with no server running, it may not have seen the newest events.
        ProjectionRunner(
            rectify, services.read_models.projection("cases"), batch_size=1000
        ).catch_up()
        rows = services.queries.iter_ledger(Scope(), filters, sort=sort, descending=not ascending)
        if format == LedgerFormat.XLSX:
            count = write_xlsx(rows, path, lang=lang.value, time_zone=rectify.time_zone)
        else:
            with path.open("w", encoding="utf-8-sig", newline="") as stream:
                count = write_csv(rows, stream, lang=lang.value, time_zone=rectify.time_zone)
    typer.echo(f"{path}  ({count} cases)")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{option} must be a date YYYY-MM-DD, not {value!r}") from None


def check_document(
    file: Annotated[
        Path, typer.Argument(metavar="FILE.pdf", help="A notice's or record's PDF.", exists=True)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Check a printed document against the log: exit 0 if it says what the log held at its
    position and nothing changed since; 2 if later events changed it (outdated); 1 if the
    document or the log was altered, naming the field or the event."""
    with open_documents(database_url) as (_, documents):
        report = documents.check(read_record(file.read_bytes()))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(
            f"{report.kind.value} {report.subject_id}: {report.status.value.upper()} "
            f"(log position {report.position}, chain head {report.chain_hash})"
        )
        for finding in report.findings():
            typer.echo(f"  - {finding}", err=report.status == CheckStatus.ALTERED)
    if report.status == CheckStatus.ALTERED:
        raise typer.Exit(1)
    if report.status == CheckStatus.OUTDATED:
        raise typer.Exit(2)
