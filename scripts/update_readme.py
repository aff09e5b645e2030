"""Regenerate the README's configuration table from the Settings class."""

from pathlib import Path

from carebridge.settings import settings_table_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{settings_table_markdown()}\n{END}{tail}")


if __name__ == "__main__":
    main()
