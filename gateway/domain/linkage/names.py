"""Name normalisation for linkage tokens (DESIGN section 6).

Two records of one person written by two agencies differ in accents, case, punctuation,
titles, spacing of "Mc Donald" or "O'Brien", hyphenation of double-barrelled names, and
nicknames. Everything here maps such spellings to one form, deterministically: the same
input gives the same output on every node and every release of this table, because tokens
only meet if both sides computed exactly the same bytes.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import jellyfish
from anyascii import anyascii
from nicknames import NickNamer

# Honorifics and generational suffixes carry no identity; agencies add them inconsistently.
TITLES = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord",
        "rev", "revd", "fr", "jr", "jnr", "sr", "snr", "ii", "iii", "iv",
    }
)  # fmt: skip
# Particles that glue onto the next word ("Mc Donald", "O Brien", "Van Dyke") rather than
# being a family name of their own.
PARTICLES = frozenset(
    {"mc", "mac", "o", "de", "del", "della", "di", "da", "van", "von", "der", "le", "la", "st"}
)
# Parts of a double-barrelled family name shorter than this are not used on their own:
# too many people share them for a weak token.
MIN_PART_LENGTH = 3


def fold(text: str) -> str:
    """Accents, scripts and case folded away: "Zoë", "ZOE" and "Zoe" become "zoe".

    NFKD then dropping combining marks handles "é"; anyascii handles what NFKD leaves
    alone ("ø", "ł", "æ") and other scripts ("Дмитрий" -> "dmitrii"), so every name ends up
    in the alphabet the phonetic codes understand.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return anyascii(stripped).casefold()


def words(text: str) -> list[str]:
    """Letters only, split on anything else; apostrophes join ("O'Brien" -> "obrien")."""
    folded = fold(text).replace("'", "").replace("\u2019", "")
    spaced = "".join(c if c.isalnum() else " " for c in folded)
    return [w for w in spaced.split() if w not in TITLES]


def _glue_particles(parts: list[str]) -> list[str]:
    glued: list[str] = []
    carry = ""
    for part in parts:
        if part in PARTICLES:
            carry += part
            continue
        glued.append(carry + part)
        carry = ""
    if carry:
        glued.append(carry)
    return glued


def _mac(word: str) -> str:
    # "MacDonald" and "McDonald" are one name written two ways.
    return "mc" + word[3:] if word.startswith("mac") and len(word) > 5 else word


def family_forms(text: str) -> tuple[str, list[str]]:
    """The full family name (parts joined) and its usable parts, for double-barrelled names.

    "Smith-Jones" -> ("smithjones", ["smith", "jones"]): the joined form is the exact one;
    either part alone is how the other agency may have written it.
    """
    parts = [_mac(p) for p in _glue_particles(words(text))]
    full = "".join(parts)
    alone = [p for p in parts if len(p) >= MIN_PART_LENGTH] if len(parts) > 1 else []
    return full, alone


def given_forms(text: str) -> tuple[str, str]:
    """The full given names joined (exact form) and the first given name (for variants)."""
    parts = words(text)
    return "".join(parts), (parts[0] if parts else "")


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


def given_variants(first: str) -> list[str]:
    """The name and the formal names it is a nickname of: Jon -> jon, john, jonathan.

    Only nickname -> formal direction: two nicknames of one formal name meet at the formal
    name, and a formal name is not expanded into its dozen nicknames (that would widen the
    weak token for everyone called Margaret). Sorted, so the order is deterministic.
    """
    if not first:
        return []
    return sorted({first} | {fold(c) for c in _nicknamer().canonicals_of(first)})


def phonetic(word: str) -> str:
    """Sound-alike code for typo-tolerant weak tokens (choice measured in bench/linkage.py)."""
    return jellyfish.metaphone(word) if word else ""


# Below this length a name minus one letter is close to an initial: "ben" and "bea" would
# meet at "be". Such names meet only through their other rules.
MIN_NEIGHBOUR_LENGTH = 3


def one_letter_out(word: str) -> list[str]:
    """The word and every form of it with one letter removed, sorted.

    Two spellings one edit apart (a letter substituted, inserted, dropped, or two adjacent
    letters swapped) always share at least one of these forms, whatever the letters: the
    typo tolerance the phonetic code does not give ("Jakc" and "Jack", "Xara" and "Sara").
    """
    if len(word) < MIN_NEIGHBOUR_LENGTH:
        return [word] if word else []
    return sorted({word} | {word[:i] + word[i + 1 :] for i in range(len(word))})
