"""The fixed wording of the printed documents, in Chinese (the default) and English.

Only wording and formats live here: what a document says comes from its
content (:mod:`application.documents.content`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

LANGUAGES = ("zh", "en")

_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Texts:
    """Labels and formats of one language, as the templates use them (``t.…``)."""

    lang: str

    def _pick(self, zh: str, en: str) -> str:
        return en if self.lang == "en" else zh

    def __getattr__(self, name: str) -> str:
        try:
            zh, en = _LABELS[name]
        except KeyError:
            raise AttributeError(name) from None
        return self._pick(zh, en)

    @property
    def page_counter(self) -> str:
        """The CSS ``content`` of the page footer (第 N 页 共 M 页)."""
        if self.lang == "en":
            return '"Page " counter(page) " of " counter(pages)'
        return '"第 " counter(page) " 页 共 " counter(pages) " 页"'

    def date(self, text: str | None) -> str:
        if not text:
            return ""
        day = date.fromisoformat(text[:10])
        if self.lang == "en":
            return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
        return f"{day.year}年{day.month}月{day.day}日"

    def moment(self, text: str) -> str:
        moment = datetime.fromisoformat(text)
        return f"{self.date(text)} {moment:%H:%M}"

    def severity_label(self, severity: str) -> str:
        zh, en = _SEVERITY.get(severity, (severity, severity))
        return self._pick(zh, en)

    def role(self, role: str) -> str:
        zh, en = _ROLES.get(role, (role, role))
        return self._pick(zh, en)

    def attempt(self, attempt: int) -> str:
        return self._pick(f"第 {attempt} 次复查", f"verification attempt {attempt}")

    def notice_lead(self, c: dict[str, Any]) -> str:
        """The notice's opening paragraph."""
        inspector = c["issued_by"]["name"]
        issued = self.date(c["issued_on"])
        deadline = self.date(c["deadline"])
        site = c["site"]["name"]
        if self.lang == "en":
            return (
                f"On {issued} our inspector {inspector} inspected {site} and found the hazard "
                f"below. You are ordered to put it right by {deadline} with the measures "
                "required below, and to report the rectification to us in writing."
            )
        return (
            f"{issued}，我单位检查人员{inspector}对{site}进行检查，发现下列隐患。"
            f"现责令你单位按下列要求于{deadline}前整改完毕，并将整改情况书面报告我单位。"
        )

    def deadline_change(self, change: dict[str, Any]) -> str:
        old, new, on = (self.date(change[k]) for k in ("old_deadline", "new_deadline", "on"))
        if change["kind"] == "extension_granted":
            return self._pick(
                f"{on}经{change['signed_by']}批准延期：{old} → {new}（原因：{change['reason']}）",
                f"{on}: extension granted by {change['signed_by']}, {old} → {new} "
                f"(reason: {change['reason']})",
            )
        return self._pick(
            f"{on}复查不合格，重新整改（第 {change['attempt']} 次），期限 {old} → {new}",
            f"{on}: verification failed, rectification attempt {change['attempt']}, "
            f"deadline {old} → {new}",
        )


_SEVERITY = {"general": ("一般隐患", "general"), "major": ("重大隐患", "major")}
_ROLES = {
    "inspector": ("检查员", "inspector"),
    "supervisor": ("负责人", "supervisor"),
    "responsible_party": ("整改责任人", "responsible party"),
    "auditor": ("审计员", "auditor"),
    "system": ("系统", "system"),
}

_LABELS: dict[str, tuple[str, str]] = {
    "notice_title": ("隐患整改通知书", "Rectification notice"),
    "record_title": ("复查意见书", "Verification record"),
    "number": ("编号", "No."),
    "site": ("受检场所", "Site"),
    "party": ("整改责任人", "Responsible party"),
    "contact": ("联系方式", "contact"),
    "category": ("隐患类别", "Hazard category"),
    "severity": ("隐患等级", "Severity"),
    "checklist_item": ("检查项目", "Checklist item"),
    "location": ("隐患部位", "Location"),
    "description": ("隐患描述", "Description"),
    "measures": ("整改措施要求", "Required measures"),
    "deadline": ("整改期限", "Deadline"),
    "first_deadline": ("原定期限", "first set to"),
    "five_point_plan": (
        "重大隐患整改“五落实”",
        "Five-point plan for a major hazard (五落实)",
    ),
    "fpp_person": ("落实责任人", "Responsible person"),
    "fpp_measures": ("落实整改措施", "Measures"),
    "fpp_funds": ("落实整改资金", "Funds"),
    "fpp_deadline": ("落实整改时限", "Deadline"),
    "fpp_contingency": ("落实应急预案", "Contingency plan"),
    "notice_closing": (
        "整改期间应采取有效防范措施，确保安全。逾期未整改或整改不到位的，将依法依规处理。",
        "Take effective precautions until the hazard is put right. A hazard not put right "
        "by the deadline will be dealt with as the regulations provide.",
    ),
    "issuer_sign": ("检查人员（签名）", "Inspector (signature)"),
    "issuing_unit_seal": ("发文单位（盖章）", "Issuing unit (seal)"),
    "issued_on": ("下达日期", "Issued on"),
    "party_sign": ("整改责任人签收（签名）", "Received by the responsible party (signature)"),
    "signed_on": ("日期", "Date"),
    "blank_date": ("　　　　年　　月　　日", "____ / __ / __"),
    "what_was_checked": ("复查内容", "What was checked"),
    "completion_report": ("整改完成报告", "Completion report"),
    "fixed_on_the_spot": ("即查即改情况", "Fixed on the spot"),
    "evidence": ("证明材料", "Evidence"),
    "result": ("复查结论", "Result"),
    "passed": ("合格，隐患已整改到位", "Passed: the hazard has been put right"),
    "failed": ("不合格，须重新整改", "Failed: to be rectified again"),
    "findings": ("复查意见", "Findings"),
    "next_deadline": ("重新整改期限", "New deadline"),
    "verifier": ("复查人", "Verified by"),
    "performed_at": ("复查时间", "Verified at"),
    "verifier_sign": ("复查人（签名）", "Verifier (signature)"),
    "provenance": (
        "本文书由事件日志生成，可据以下信息核验：",
        "Made from the event log; check it against the log with:",
    ),
    "position": ("日志位置", "Log position"),
    "chain_head": ("哈希链头", "Hash-chain head"),
    "digest": ("内容摘要", "Content digest"),
    "check_hint": (
        "核验：rectify audit check-document 文件.pdf",
        "Check: rectify audit check-document FILE.pdf",
    ),
}
