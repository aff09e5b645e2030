"""The README's configuration table is generated from Settings; this keeps them from drifting."""

from pathlib import Path

from carebridge.settings import settings_table_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_matches_settings() -> None:
    text = README.read_text()
    start = text.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == settings_table_markdown().strip(), (
        "README configuration table is stale: run `python scripts/update_readme.py`"
    )


def test_readme_names_the_test_command_that_ci_runs() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in README.read_text()
    assert "bash scripts/test.sh" in ci
