"""Evidence files (photos, documents): uploaded once, stored by SHA-256, cited by commands."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Path, Request, Response, UploadFile

from domain.errors import InvalidCommand
from infrastructure.evidence import EvidenceStore
from interfaces.http.middleware import EVIDENCE_BODY_LIMIT
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.routers.common import ActingOnOrders, Anyone
from interfaces.http.schemas.common import EvidenceView
from interfaces.http.validation import ONLY_THE_FILE

router = APIRouter(prefix="/evidence", tags=["evidence"])

# Served under their own type; anything else is served as a download of bytes,
# so an uploaded page can never run as a page of this site.
INLINE_MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
    }
)
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")


def _store(request: Request) -> EvidenceStore:
    return request.app.state.evidence


@router.post(
    "",
    status_code=201,
    response_model=EvidenceView,
    responses=problem_responses(401, 403, 413, 422),
    openapi_extra=ONLY_THE_FILE,
)
def upload_evidence(
    request: Request,
    response: Response,
    file: Annotated[UploadFile, File(description="The photo or document, at most 20 MiB.")],
    user: ActingOnOrders,
) -> EvidenceView:
    """Upload a photo or document; cite the returned object in a command's `evidence`.

    The same bytes uploaded again are stored once and answer the same hash.
    Roles: inspector, supervisor, responsible party.
    """
    data = file.file.read(EVIDENCE_BODY_LIMIT + 1)
    if not data:
        raise InvalidCommand("the evidence file is empty", rule="evidence_empty")
    name = re.split(r"[\\/]", file.filename or "")[-1].strip() or "evidence"
    media_type = (file.content_type or "application/octet-stream").split(";")[0].strip()
    if not _MEDIA_TYPE.match(media_type):
        raise InvalidCommand(
            f"the evidence media type {media_type[:100]!r} is not of the form type/subtype",
            rule="evidence_media_type_invalid",
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCommand(
            "the evidence file name is not valid Unicode", rule="evidence_name_invalid"
        ) from None
    evidence = _store(request).put(data, name=name, media_type=media_type.lower())
    response.headers["Location"] = f"/evidence/{evidence.sha256}"
    return EvidenceView.of(evidence)


@router.get(
    "/{sha256}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."},
        **problem_responses(401, 404, 409, 422),
    },
)
def download_evidence(
    request: Request,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    user: Anyone,
) -> Response:
    """Download an evidence file. Its bytes are hashed again first: a file altered
    since upload is refused with 409 (rule `evidence_altered`). Roles: all."""
    found = _store(request).get(sha256)
    if found is None:
        raise ProblemError(404, f"no evidence {sha256}", rule="not_found")
    media_type = found.evidence.media_type
    inline = media_type in INLINE_MEDIA_TYPES
    disposition = "inline" if inline else "attachment"
    return Response(
        content=found.data,
        media_type=media_type if inline else "application/octet-stream",
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''"
            + quote(found.evidence.name, safe=""),
            "ETag": f'"{sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
