"""Words for the domain's codes that more than one page shows (one wording each)."""

from __future__ import annotations

from schemas.wire.document import KINDS

DOCUMENT_KINDS = {
    "minutes": "Minutes of the MARAC meeting",
    "original_referral": "The original referral",
    "marac_referral_form": "A completed MARAC referral form",
    "dash_ric": "The DASH risk checklist",
    "other": "Another document",
}
assert tuple(DOCUMENT_KINDS) == KINDS  # noqa: S101 - every kind has its words
