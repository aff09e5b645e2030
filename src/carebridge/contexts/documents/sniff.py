"""What a file is, from its first bytes: the only evidence trusted about an upload's type.

The filename and the declared Content-Type are the client's claims; they are checked against the content
and a disagreement is refused, so a script renamed `report.pdf` never reaches a viewer as a PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PDF: Final = "application/pdf"
JPEG: Final = "image/jpeg"
PNG: Final = "image/png"

SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)
EXTENSIONS: Final[dict[str, str]] = {".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".png": PNG}
EXTENSION_FOR: Final[dict[str, str]] = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
LABELS: Final[dict[str, str]] = {PDF: "a PDF", JPEG: "a JPEG image", PNG: "a PNG image"}
# declared types that say nothing (browsers send them for unknown files); they cannot disagree with the content
UNINFORMATIVE: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True, slots=True)
class Refusal:
    slug: str  # document-type-unknown | document-type-mismatch
    detail: str
    found: str | None
    declared: str | None


def sniff(head: bytes) -> str | None:
    for magic, media_type in SIGNATURES:
        if head.startswith(magic):
            return media_type
    return None


def describe_head(head: bytes) -> str:
    """The first bytes, printable, for the refusal message (the client sees what the server saw)."""
    return head[:8].hex(" ") if head else "nothing (the file is empty)"


def check(content: bytes, *, filename: str | None, declared_type: str | None) -> str | Refusal:
    """The sniffed media type, or why the upload is refused."""
    found = sniff(content[:16])
    declared = (declared_type or "").split(";")[0].strip().lower()
    if found is None:
        return Refusal("document-type-unknown",
                       f"the content is not a PDF, JPEG or PNG: it starts with {describe_head(content)}",
                       found=None, declared=declared or None)
    if declared not in UNINFORMATIVE and declared != found:
        return Refusal("document-type-mismatch",
                       f"the content is {LABELS[found]} ({found}) but was declared as {declared}",
                       found=found, declared=declared)
    name = (filename or "").strip().lower()
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 else ""
    if ext and EXTENSIONS.get(ext, "") != found:
        return Refusal("document-type-mismatch",
                       f"the content is {LABELS[found]} ({found}) but the file name ends in {ext}",
                       found=found, declared=ext)
    return found
