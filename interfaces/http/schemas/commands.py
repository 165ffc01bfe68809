"""Request bodies of the commands, with the examples the OpenAPI document shows.

Types and lengths are checked here; whether the values make sense (a reason
that is blank, a deadline in the past) is the domain's to say, so its rule
names reach the client.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field, SecretStr, StrictBool

from interfaces.http.schemas.common import (
    Code,
    EvidenceList,
    RequiredShortText,
    RequiredText,
    ShortText,
    Strict,
    TemplateVersion,
    Text,
    UserId,
)

_EVIDENCE_EXAMPLE = {
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "name": "visitor-register.jpg",
    "media_type": "image/jpeg",
    "size": 48213,
}


def _examples(*examples: dict) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class RegisterSite(Strict):
    """A site to be inspected."""

    model_config = _examples(
        {
            "name": "陶表印盲人按摩店",
            "region": "安义县",
            "address": "安义县城",
            "operator": "陶表印",
            "contact": "0791-0000000",
            "kind": "盲人按摩店",
        }
    )

    name: RequiredShortText
    region: RequiredShortText
    address: ShortText = ""
    operator: ShortText = ""
    contact: ShortText = ""
    kind: ShortText = ""


class OpenInspection(Strict):
    """Open an inspection of a site against a checklist template."""

    model_config = _examples(
        {
            "site_id": "5b0f8b8e-8f3c-4d7e-9a51-2f0c3a8d1e11",
            "template_code": "epidemic-2022",
            "inspector_ids": ["zhangming"],
        }
    )

    site_id: UUID
    template_code: Code
    template_version: TemplateVersion | None = None
    inspector_ids: list[UserId] = Field(
        default_factory=list,
        max_length=20,
        description="Other inspectors or supervisors on the team; the caller is always one.",
    )


class RecordItem(Strict):
    """The result of one checklist item; a failed item needs a note."""

    model_config = _examples({"result": "fail", "note": "未落实进出人员信息登记"})

    result: Literal["pass", "fail", "na"]
    note: Text = ""


class Reason(Strict):
    """A reason (cancel an inspection, dismiss a hazard, reopen a case, deny an extension)."""

    model_config = _examples({"reason": "重复上报"})

    reason: RequiredText


class ReportHazard(Strict):
    """A hazard found by an open inspection; the new case's id is the hazard's."""

    model_config = _examples(
        {
            "item_code": "visitor-register",
            "category": "疫情防控",
            "description": "未落实进出人员信息登记",
            "location": "前台",
            "severity": "general",
            "evidence": [_EVIDENCE_EXAMPLE],
        }
    )

    category: RequiredShortText
    description: RequiredText
    severity: Literal["general", "major"]
    item_code: Code | None = None
    location: ShortText = ""
    evidence: EvidenceList = Field(default_factory=list)


class Regrade(Strict):
    """A new severity, with a reason."""

    model_config = _examples({"severity": "major", "reason": "涉及多名顾客，风险较大"})

    severity: Literal["general", "major"]
    reason: RequiredText


class FixOnTheSpot(Strict):
    """即查即改: a general hazard fixed during the inspection, with evidence."""

    model_config = _examples({"note": "当场补建登记簿", "evidence": [_EVIDENCE_EXAMPLE]})

    note: RequiredText
    evidence: EvidenceList


class Party(Strict):
    """The responsible party (整改责任人); ``user_id`` links their account, if they have one."""

    name: RequiredShortText
    contact: RequiredShortText
    user_id: UserId | None = None


class FivePointPlan(Strict):
    """五落实, required on a major hazard's order."""

    responsible_person: RequiredShortText
    measures: RequiredText
    funds: RequiredShortText
    deadline: date
    contingency_plan: RequiredText


class IssueOrder(Strict):
    """A rectification order (整改通知); the deadline defaults from the severity."""

    model_config = _examples(
        {
            "party": {"name": "陶表印", "contact": "0791-0000000", "user_id": "taobiaoyin"},
            "measures": "建立进出人员信息登记簿，逐一登记",
            "deadline": "2022-04-25",
        }
    )

    party: Party
    measures: RequiredText
    deadline: date | None = None
    five_point_plan: FivePointPlan | None = None


class Verify(Strict):
    """The result of a verification (复查): passed or failed, with findings."""

    model_config = _examples(
        {"passed": True, "findings": "登记簿已建立并按要求登记", "evidence": [_EVIDENCE_EXAMPLE]},
        {"passed": False, "findings": "登记不全", "new_deadline": "2022-04-28"},
    )

    passed: StrictBool
    findings: RequiredText
    evidence: EvidenceList = Field(default_factory=list)
    new_deadline: date | None = Field(
        default=None, description="For a failed verification: the order's new deadline."
    )


class Signed(Strict):
    """A signed action: the signer's password again, and a reason (21 CFR Part 11 §11.50)."""

    model_config = _examples({"reason": "复查合格，准予销号", "password": "correct horse battery"})

    reason: RequiredText
    password: SecretStr = Field(max_length=1024, description="The signer's own password.")


class Note(Strict):
    """A progress or completion report, with evidence."""

    model_config = _examples({"note": "已建立登记簿", "evidence": [_EVIDENCE_EXAMPLE]})

    note: RequiredText
    evidence: EvidenceList = Field(default_factory=list)


class ExtensionRequest(Strict):
    """A later deadline asked for, with a reason (申请延期)."""

    model_config = _examples({"new_deadline": "2022-05-02", "reason": "登记簿印制需要时间"})

    new_deadline: date
    reason: RequiredText
