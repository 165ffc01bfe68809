"""The domain's refusals as a person reads them, in their language, beside the field.

Each domain and application error names its rule (``.rule``); this maps the
rule to a catalogue message and to the form field it concerns. The messages are
marked with :func:`N_` so Babel extracts them; they are translated when shown.
A rule without an entry still shows, with a general message and its name.
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues without translating it yet."""
    return message


# rule -> (field the message stands beside, or "" for the form as a whole; message)
RULES: dict[str, tuple[str, str]] = {
    "stale_version": ("", N_("Someone else changed this record after you opened the page.")),
    "concurrent_write": ("", N_("Someone else saved a change at the same moment; try again.")),
    "signature_rejected": (
        "password",
        N_("The password does not match yours; nothing was signed."),
    ),
    "account_locked": ("password", N_("Too many wrong passwords: the account is locked for now.")),
    "too_many_login_attempts": (
        "password",
        N_("Too many sign-in attempts from this device: wait a minute and try again."),
    ),
    "password_checks_busy": (
        "password",
        N_("The server is busy checking passwords: try again in a moment."),
    ),
    "not_found": ("", N_("This record does not exist.")),
    "deadline_in_past": ("deadline", N_("The deadline must be after today.")),
    "extension_must_move_deadline_later": (
        "new_deadline",
        N_("The new deadline must be later than the current one."),
    ),
    "major_order_needs_five_point_plan": (
        "plan_responsible_person",
        N_("A major hazard's order needs the five-point plan (五落实)."),
    ),
    "major_case_closer_is_not_verifier": (
        "password",
        N_("A major hazard's case must be closed by a supervisor other than its verifier."),
    ),
    "no_verification_before_completion_report": (
        "",
        N_("No verification before a completion report."),
    ),
    "one_open_order_per_hazard": ("", N_("This hazard already has an open order.")),
    "one_pending_extension": ("new_deadline", N_("An extension request is already pending.")),
    "no_pending_extension": ("", N_("There is no pending extension request.")),
    "no_completion_report_on_closed_order": (
        "",
        N_("No completion report on an order that is fulfilled or cancelled."),
    ),
    "regrade_same_severity": ("severity", N_("The hazard already has this severity.")),
    "spot_fix_only_general": ("", N_("Only a general hazard may be fixed on the spot.")),
    "spot_fix_needs_evidence": ("photos", N_("An on-the-spot fix needs a photo.")),
    "failed_item_needs_note": ("note", N_("A failed item needs a note saying what was wrong.")),
    "inspection_complete_needs_every_item": (
        "",
        N_("Every checklist item must be recorded before the inspection is completed."),
    ),
    "hazard_only_from_failed_item": ("item_code", N_("A hazard is reported from a failed item.")),
    "verifier_is_not_responsible_party": (
        "",
        N_("The responsible party may not verify their own rectification."),
    ),
    "party_acts_only_on_own_orders": ("", N_("This order is not addressed to you.")),
    "unknown_user": ("party_user_id", N_("There is no such user.")),
    "party_account_not_responsible_party": (
        "party_user_id",
        N_("That account is not a responsible party's."),
    ),
    "version_not_in_history": (
        "version",
        N_("The case has no such version, or did not exist yet then."),
    ),
    "version_invalid": ("version", N_("The version must be at least 1.")),
    "date_invalid": ("", N_("Enter a date as YYYY-MM-DD.")),
    "form_reused": ("", N_("This form was already sent with other values; reload the page.")),
    "photo_too_large": ("photos", N_("A photo is larger than 20 MB.")),
}

REQUIRED_FIELDS: dict[str, str] = {
    "reason": "reason",
    "note": "note",
    "findings": "findings",
    "required_measures": "measures",
    "description": "description",
    "category": "category",
    "responsible_party_name": "party_name",
    "responsible_party_contact": "party_contact",
    "five_point_plan_responsible_person": "plan_responsible_person",
    "five_point_plan_measures": "plan_measures",
    "five_point_plan_funds": "plan_funds",
    "five_point_plan_contingency_plan": "plan_contingency",
    "site_name": "name",
    "name": "name",
    "address": "address",
    "region": "region",
}
REQUIRED = N_("This field is required.")
TOO_LONG = N_("This is too long.")
GENERAL = N_("This was refused by the rule “%(rule)s”.")
NOT_PERMITTED = N_("Your role may not do this now.")


@dataclass(frozen=True)
class FieldError:
    """A refusal to show: beside ``field`` ("" = at the top of the form), untranslated."""

    field: str
    message: str
    rule: str


def error_for(rule: str, *, permitted: bool = True) -> FieldError:
    """Where and how to show a refusal of ``rule``."""
    if rule in RULES:
        where, message = RULES[rule]
        return FieldError(where, message, rule)
    for suffix, message in (("_required", REQUIRED), ("_too_long", TOO_LONG)):
        if rule.endswith(suffix):
            what = rule[: -len(suffix)]
            return FieldError(REQUIRED_FIELDS.get(what, ""), message, rule)
    if not permitted:
        return FieldError("", NOT_PERMITTED, rule)
    return FieldError("", GENERAL, rule)
