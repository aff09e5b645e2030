"""`carebridge facilities import|export` on a database of its own (a temporary SQLite file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carebridge.contexts.facilities.cli import facilities_app
from carebridge.kernel.migrate import upgrade
from carebridge.settings import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CAREBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("CAREBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREBRIDGE_ENV", "test")
    get_settings.cache_clear()
    upgrade(url)
    yield tmp_path
    get_settings.cache_clear()


def test_import_lists_rejected_rows_and_export_writes_the_rest(data_dir: Path) -> None:
    source = data_dir / "facilities.csv"
    source.write_text("external_id,name,type,lat,lng,specialties\n"
                      "c-1,Aundh Clinic,private_clinic,18.56,73.81,dermatology\n"
                      "c-2,Broken,private_clinic,18.56,,\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(facilities_app, ["import", str(source)])
    assert result.exit_code == 1  # something was refused, and it says what
    assert "2 read (csv, profile carebridge): 1 created, 0 updated, 1 rejected" in result.output
    assert "rejected line 3 [c-2]: location.lng" in result.output

    again = runner.invoke(facilities_app, ["import", str(source), "--json"])
    report = json.loads(again.output[again.output.index("{"):])
    assert (report["created"], report["updated"], report["rejected_rows"][0]["line"]) == (0, 1, 3)

    out = data_dir / "out.geojson"
    exported = runner.invoke(facilities_app, ["export", "--format", "geojson", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["name"] for f in features] == ["Aundh Clinic"]


def test_unreadable_file_exits_2(data_dir: Path) -> None:
    source = data_dir / "bad.json"
    source.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(facilities_app, ["import", str(source), "--format", "fhir"])
    assert result.exit_code == 2
    assert "Bundle" in result.output
