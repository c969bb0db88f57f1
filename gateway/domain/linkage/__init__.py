"""Privacy-preserving linkage of subjects across areas (DESIGN section 6): pure, no Flask."""

from gateway.domain.linkage.scoring import POSSIBLE, STRONG, Strength, basis, decide
from gateway.domain.linkage.subject_tokens import (
    SPACES,
    LinkageInput,
    Subject,
    Token,
    derive_tokens,
    linkage_inputs,
)

__all__ = [
    "POSSIBLE",
    "SPACES",
    "STRONG",
    "LinkageInput",
    "Strength",
    "Subject",
    "Token",
    "basis",
    "decide",
    "derive_tokens",
    "linkage_inputs",
]
