"""Page language: the .po catalogues, read once at start-up, and choosing a language per request.

Catalogues are read with Babel and turned into GNU translations in memory, so editing a .po file
is the whole workflow: there is no compile step at install and no .mo file to forget to rebuild.
Strings that live in Python (navigation labels, notices) are marked with `N_` so the catalogue
test finds them as it finds the templates' `_()` calls.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR: Final = Path(__file__).resolve().parent / "locales"
LANG_COOKIE: Final = "cb_lang"
LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    # The language's own name, so a reader who cannot read the current page can still find theirs.
    native_name: str


LANGUAGES: Final[Mapping[str, Language]] = {
    "en": Language("en", "English"),
    "hi": Language("hi", "हिन्दी"),
}


def N_(message: str) -> str:
    """Mark a Python string for the catalogue; it is translated where it is shown."""
    return message


def read_catalog(lang: str, locales_dir: Path = LOCALES_DIR) -> Catalog:
    path = locales_dir / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog: Catalog = read_po(fh, locale=lang)
    return catalog


def load_translations(locales_dir: Path = LOCALES_DIR) -> dict[str, gettext.GNUTranslations]:
    """Every supported language's translations; a missing catalogue fails start-up, not a page."""
    out: dict[str, gettext.GNUTranslations] = {}
    for code in LANGUAGES:
        buf = io.BytesIO()
        write_mo(buf, read_catalog(code, locales_dir))
        buf.seek(0)
        out[code] = gettext.GNUTranslations(buf)
    return out


def supported(code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().lower()
    return code if code in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language in an Accept-Language header, by quality then order."""
    if not header or len(header) > 500:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-", 1)[0].lower()
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return sorted(ranked)[0][2] if ranked else None


def choose_language(*, user_language: str | None, cookie: str | None, accept_language: str | None,
                    default: str) -> str:
    """A signed-in user's saved choice wins, then the anonymous cookie, then the browser, then the server."""
    return (
        supported(user_language)
        or supported(cookie)
        or from_accept_language(accept_language)
        or supported(default)
        or "en"
    )
