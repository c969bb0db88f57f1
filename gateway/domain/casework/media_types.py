"""What a document IS, judged from its bytes alone (DESIGN section 5: media-type
allow-list, filenames never trusted).

Only the types a MARAC sends are accepted: PDF, DOCX, ODT, RTF, plain text, PNG and JPEG.
Each is recognised by its own structure, not by a guess from a filename or a client's
Content-Type: magic numbers for PDF, PNG, JPEG and RTF; for DOCX and ODT (both ZIP
containers) the package's own declaration inside the archive, read with small bounded
reads so a crafted archive cannot make us inflate much; for plain text, valid UTF-8
without NULs or other control characters. Anything else is `None`, which callers refuse.
Macro-enabled Word files (.docm) declare a different main part and are refused.
"""

from __future__ import annotations

import io
import zipfile

from schemas.wire.document import DOCX, JPEG, ODT, PDF, PNG, RTF, TEXT

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_PDF = b"%PDF-"
_RTF = b"{\\rtf"
_ZIP = b"PK\x03\x04"
# The main part a DOCX declares in [Content_Types].xml (a .docm declares another).
_DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
# Inner entries are tiny; never inflate more than this of any of them.
_ENTRY_LIMIT = 256 * 1024
# Text may hold tab, line feed, form feed and carriage return, nothing else below 0x20.
_TEXT_CONTROLS = bytes(sorted(frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F}))


def detect(data: bytes) -> str | None:
    """The allowed media type these bytes are, or None."""
    if not data:
        return None
    if data.startswith(_PDF):
        return PDF
    if data.startswith(_PNG):
        return PNG
    if data.startswith(_JPEG):
        return JPEG
    if data.startswith(_RTF):
        return RTF
    if data.startswith(_ZIP):
        return _office(data)
    return TEXT if _plain_text(data) else None


def _office(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            # ODF: the first entry is `mimetype`, stored, holding the type (ODF 1.2 3.3).
            if names and names[0] == "mimetype":
                declared = _entry(archive, "mimetype")
                return ODT if declared == ODT.encode("ascii") else None
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                types = _entry(archive, "[Content_Types].xml")
                return DOCX if types is not None and _DOCX_MAIN in types else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, RuntimeError):
        return None
    return None


def _entry(archive: zipfile.ZipFile, name: str) -> bytes | None:
    info = archive.getinfo(name)
    if info.file_size > _ENTRY_LIMIT:
        return None
    with archive.open(info) as handle:
        return handle.read(_ENTRY_LIMIT + 1)[:_ENTRY_LIMIT]


def _plain_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # translate() deletes in C: fast even for a document at the size limit.
    return len(data.translate(None, _TEXT_CONTROLS)) == len(data)
