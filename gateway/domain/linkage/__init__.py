"""Privacy-preserving linkage of subjects across areas (DESIGN section 6): pure, no Flask."""

from gateway.domain.linkage.subject_tokens import (
    LinkageInput,
    Subject,
    derive_tokens,
    linkage_inputs,
)

__all__ = ["LinkageInput", "Subject", "derive_tokens", "linkage_inputs"]
