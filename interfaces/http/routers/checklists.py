"""Checklist templates (检查表): reference data, readable by every role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from domain.checklists import all_templates, get_template
from domain.errors import InvalidCommand
from interfaces.http.problems import ProblemError
from interfaces.http.routers.common import (
    READ_ERRORS,
    Anyone,
)
from interfaces.http.schemas.common import Code
from interfaces.http.schemas.views import ChecklistView

router = APIRouter(prefix="/checklists", tags=["checklists"])


@router.get("", response_model=list[ChecklistView], responses=READ_ERRORS)
def list_checklists(user: Anyone) -> list[ChecklistView]:
    """Every checklist template at every version. Roles: all."""
    return [ChecklistView.of(t) for t in all_templates()]


@router.get("/{code}", response_model=ChecklistView, responses=READ_ERRORS)
def get_checklist(
    code: Code,
    user: Anyone,
    version: Annotated[
        int | None, Query(ge=1, le=10_000, description="A version; the latest if omitted.")
    ] = None,
) -> ChecklistView:
    """One checklist template, at a version or the latest. Roles: all.

    An unknown code is 404 (rule ``unknown_checklist``).
    """
    try:
        return ChecklistView.of(get_template(code, version))
    except InvalidCommand as error:
        raise ProblemError(404, error.message, rule=error.rule) from None
