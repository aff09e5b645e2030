"""The knowledge files: versions, citations, the generated public DDI file and load-time validation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from carebridge.engines.interactions.catalogue import KNOWLEDGE_DIR
from carebridge.engines.interactions.knowledge import compile_knowledge

ENGINE_DIR = KNOWLEDGE_DIR.parent


def test_every_knowledge_file_has_a_version(kb) -> None:  # type: ignore[no-untyped-def]
    assert all(v for v in kb.versions.values())
    assert kb.version.startswith("2025.1+sha256:") and len(kb.version) == len("2025.1+sha256:") + 12
    for name in ("groups.json", "ddi_curated.json", "ddi_public.json", "allergy.json", "conditions.json",
                 "dose_ranges.json", "renal.json", "duplicates.json"):
        assert name in kb.versions


def test_public_ddi_file_is_generated_and_cites_every_row() -> None:
    doc = json.loads((KNOWLEDGE_DIR / "ddi_public.json").read_text())
    assert doc["input"]["rows"] == 4219 and doc["input"]["commit"] == "8199ee66"
    used = sum(len(e["source_rows"]) for e in doc["entries"])
    assert used + doc["dropped"]["rows"] == 4219  # nothing silently lost
    for e in doc["entries"]:
        assert e["source"] in ("ansm-2016", "oscar-drugref") and e["source_rows"] and e["source_names"]
        assert e["severity"] in ("contraindicated", "major", "moderate", "minor")
        if e["source"] == "ansm-2016":
            assert e["management"].startswith("ANSM:")


def test_onc_list_is_fifteen_contraindicated_pairs() -> None:
    doc = json.loads((KNOWLEDGE_DIR / "ddi_curated.json").read_text())
    onc = doc["onc_high_priority"]
    assert len(onc) == 15 and {e["severity"] for e in onc} == {"contraindicated"}
    assert {e["source"] for e in onc} == {"phansalkar-2012"}
    assert all(q["source"] == "phansalkar-2013" for q in doc["non_interruptive"])


def test_engine_code_never_reads_the_shared_data() -> None:
    for path in [*ENGINE_DIR.glob("*.py"), *(ENGINE_DIR.parent / "prescribing_rules").glob("*.py")]:
        assert "shared/data" not in path.read_text(), path


def test_counts_are_reported(kb) -> None:  # type: ignore[no-untyped-def]
    assert kb.counts["ingredients"] >= 300 and kb.counts["interaction_entries"] > 1300
    assert kb.counts["expanded_pairs"] > kb.counts["interaction_entries"]


@pytest.mark.parametrize(("file", "patch", "error"), [
    ("groups.json", lambda d: d["groups"][0].update(source="nowhere"), "unknown source"),
    ("groups.json", lambda d: d["groups"][0].update(ingredients=["unobtainium"]), "not in the catalogue"),
    ("groups.json", lambda d: d["groups"][0].update(atc=["Z99"]), "matches nothing"),
    ("ddi_curated.json", lambda d: d["curated"][0]["a"].update(groups=["no-such-group"]), "unknown group"),
    ("ddi_curated.json", lambda d: d["curated"][0].update(severity="catastrophic"), "severity"),
    ("allergy.json", lambda d: d["classes"][1].update(synonyms=["penicillin"]), "two classes"),
    ("groups.json", lambda d: d["groups"][0].update(ingredients=["aspirin"], atc=[], exclude=["aspirin"]), "empty"),
])
def test_broken_knowledge_fails_loudly(tmp_path: Path, file: str, patch, error: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    doc = json.loads((target / file).read_text())
    patch(doc)
    (target / file).write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=error):
        compile_knowledge(target)
