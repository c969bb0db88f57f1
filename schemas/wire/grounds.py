"""Legal grounds a MARAC may record for sharing information without (or as well as) consent.

The mapping is code -> human label. Codes travel on the wire in `consent.grounds` of a
`transfer_request`; labels are for display only and may be reworded without breaking peers.
New grounds are added here (append only: a code, once used, is never renamed or removed,
because stored and in-flight requests refer to it). Validation looks codes up in this mapping
at load time, so an extension takes effect everywhere at once.
"""

from __future__ import annotations

LEGAL_GROUNDS: dict[str, str] = {
    # Statutory gateways and lawful bases.
    "crime_and_disorder_act_1998_s115": (
        "Crime and Disorder Act 1998, section 115: disclosure to a relevant authority "
        "for the purposes of the Act (reducing crime and disorder)"
    ),
    "dpa_2018_sch2_crime_prevention": (
        "Data Protection Act 2018, Schedule 2 paragraph 2: prevention or detection of crime "
        "and the apprehension or prosecution of offenders"
    ),
    "dpa_2018_sch1_para18_safeguarding": (
        "Data Protection Act 2018, Schedule 1 paragraph 18: safeguarding of children and "
        "individuals at risk"
    ),
    "uk_gdpr_art6_1e_public_task": "UK GDPR Article 6(1)(e): public task",
    "uk_gdpr_art6_1d_vital_interests": "UK GDPR Article 6(1)(d): vital interests",
    "common_law_public_interest": (
        "Common law: disclosure in the public interest, overriding the duty of confidence"
    ),
    "children_act_1989_s47": (
        "Children Act 1989, section 47: enquiries where a child is suffering, or is likely "
        "to suffer, significant harm"
    ),
    "care_act_2014_s42": (
        "Care Act 2014, section 42: safeguarding enquiry for an adult with care and support "
        "needs at risk of abuse or neglect"
    ),
    # Why consent was not sought (recorded alongside a lawful basis above).
    "consent_would_increase_risk": (
        "Consent not sought: seeking it would increase the risk to the victim"
    ),
    "consent_would_prejudice_crime_prevention": (
        "Consent not sought: seeking it would prejudice the prevention or detection of crime"
    ),
    "consent_would_cause_undue_delay": (
        "Consent not sought: seeking it would cause undue delay in protecting the victim or a child"
    ),
}


def is_known_ground(code: str) -> bool:
    return code in LEGAL_GROUNDS


def ground_label(code: str) -> str:
    """The human label for a code; unknown codes are shown as themselves, never dropped."""
    return LEGAL_GROUNDS.get(code, code)
