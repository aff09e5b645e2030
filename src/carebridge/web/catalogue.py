"""Finding the page strings and keeping the .po catalogues in step with them.

`python -m carebridge.web.catalogue` adds every new string (from templates' `_()` and the page
modules' `N_()`) to each catalogue with an empty translation, drops strings no page uses any more
and keeps every existing translation. The i18n test then fails until the Hindi is written, so a
page string cannot ship untranslated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.pofile import write_po
from jinja2.ext import babel_extract

from carebridge.web.i18n import LANGUAGES, LOCALES_DIR, read_catalog

PACKAGE_DIR: Final = Path(__file__).resolve().parent.parent


def template_files(root: Path = PACKAGE_DIR) -> list[Path]:
    return sorted([*(root / "web" / "templates").rglob("*.html"), *root.glob("contexts/*/templates/**/*.html")])


def python_files(root: Path = PACKAGE_DIR) -> list[Path]:
    return sorted([*(root / "web").rglob("*.py"), *root.glob("contexts/*/web.py")])


def _text(message: object) -> str | None:
    if isinstance(message, tuple):
        message = message[0]
    return message if isinstance(message, str) and message else None


def _found(root: Path) -> Iterator[tuple[str, str, int]]:
    for path in template_files(root):
        with path.open("rb") as fh:
            for lineno, _func, message, _comments in babel_extract(fh, ["_", "gettext", "ngettext"], [], {}):
                if (text := _text(message)) is not None:
                    yield text, path.relative_to(root).as_posix(), lineno
    for path in python_files(root):
        with path.open("rb") as fh:
            for py_lineno, _py_func, py_message, _py_comments in extract_python(fh, {"N_": None}, [], {}):
                if (text := _text(py_message)) is not None:
                    yield text, path.relative_to(root).as_posix(), py_lineno


def extract_messages(root: Path = PACKAGE_DIR) -> dict[str, tuple[str, int]]:
    """Every page string, with the first place it is used."""
    out: dict[str, tuple[str, int]] = {}
    for text, path, lineno in _found(root):
        out.setdefault(text, (path, lineno))
    return out


def update_catalogues(root: Path = PACKAGE_DIR, locales_dir: Path = LOCALES_DIR) -> dict[str, list[str]]:
    """Rewrite each catalogue to hold exactly the used strings; answers the untranslated ones per language."""
    used = extract_messages(root)
    untranslated: dict[str, list[str]] = {}
    for code in LANGUAGES:
        old = read_catalog(code, locales_dir)
        new = Catalog(locale=code, project=old.project, version=old.version, header_comment=old.header_comment,
                      last_translator=old.last_translator, language_team=old.language_team, fuzzy=False)
        new.msgid_bugs_address = old.msgid_bugs_address
        new.creation_date = old.creation_date
        new.revision_date = old.revision_date
        for text, (path, lineno) in used.items():
            previous = old.get(text)
            string = previous.string if previous is not None else ""
            flags = ["python-format"] if "%(" in text else []
            new.add(text, string, locations=[(path, lineno)], flags=flags)
            if code != "en" and not string:
                untranslated.setdefault(code, []).append(text)
        target = locales_dir / code / "LC_MESSAGES" / "messages.po"
        with target.open("wb") as fh:
            write_po(fh, new, width=120, sort_output=False, include_lineno=False)
    return untranslated


if __name__ == "__main__":
    for lang, texts in update_catalogues().items():
        print(f"{lang}: {len(texts)} string(s) need a translation")
        for text in texts:
            print(f"  {text}")
