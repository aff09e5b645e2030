"""Build engines/interactions/knowledge/ddi_public.json from the public DDI pairs (4,219 rows).

Input: ddi_pairs_public.csv from dbmi-pitt/public-PDDI-analysis (commit 8199ee66, 2017), the data behind
Ayvaz S et al., J Biomed Inform 2015;55:206-217. Two sources, cited per entry as their provenance asks:
  * ANSM (French formulary thesaurus, English rendering via WorldVistA, 2016): psychotropics, statins,
    anticoagulants; ids are RxCUI; severity Contraindication/Not recommended/Precaution for use/Take into
    account -> contraindicated/major/moderate/minor; the ANSM level also defines the management advice.
  * OSCAR drugref2 (Crowther and Holbrook): significance 1/2/3 -> minor/moderate/major; ids are ATC;
    the direction is drug_a (affecting) -> drug_b (affected).

What the conversion does, deliberately and visibly:
  * names are normalised to the catalogue's generic names (ACETAMINOPHEN -> paracetamol, GLYBURIDE ->
    glibenclamide, IBUPROFIN -> ibuprofen ...); class names become ATC-class selectors expanded later over
    the catalogue (NSAIDS -> M01A, BETA BLOCKERS -> C07A ...), see CLASS_MAP and the reason beside each;
  * two class names whose rows carry precise ATC substance codes are resolved row by row through the code
    (BENZODIAZEPINE, LONG ACTING; TRICYCLIC ANTIDEPRESSANTS), which is faithful to the source;
  * rows that repeat the same pair with different ATC codes of one substance (topical, ophthalmic and
    combination codes of aspirin, lidocaine ...) collapse into one entry that lists every source row;
  * rows naming something that is not a medicine (ethanol, tobacco) or not in the catalogue (terfenadine,
    kaolin-pectin) are dropped and counted in the output's "dropped" block, never silently.

The output is deterministic (no timestamps), so re-running on the same input gives the same file.

Run:   python scripts/build_ddi_knowledge.py [--input PATH] [--output PATH] [--check]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from carebridge.engines.interactions.catalogue import load_catalogue  # noqa: E402

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "ddi" / "ddi_pairs_public.csv"
DEFAULT_OUTPUT = REPO / "src" / "carebridge" / "engines" / "interactions" / "knowledge" / "ddi_public.json"
SOURCE_COMMIT = "8199ee66"
SCRIPT_VERSION = "1"

ANSM = "ANSM_French_formulary_via_WorldVista_2016"
OSCAR = "OSCAR_drugref2_Crowther_Holbrook"
SOURCE_KEYS = {ANSM: "ansm-2016", OSCAR: "oscar-drugref"}
SOURCES = {
    "ansm-2016": "Agence nationale de securite du medicament (ANSM). Thesaurus des interactions medicamenteuses, "
                 "English rendering distributed by WorldVistA (2016); via dbmi-pitt/public-PDDI-analysis "
                 f"(commit {SOURCE_COMMIT}); Ayvaz S et al., J Biomed Inform 2015;55:206-217.",
    "oscar-drugref": "OSCAR EMR drugref2 interaction list (Crowther and Holbrook); via dbmi-pitt/public-PDDI-analysis "
                     f"(commit {SOURCE_COMMIT}); Ayvaz S et al., J Biomed Inform 2015;55:206-217.",
}

# ANSM level definitions (Thesaurus des interactions medicamenteuses, "niveaux de contrainte").
ANSM_MANAGEMENT = {
    "contraindicated": "ANSM: contraindication - do not combine.",
    "major": "ANSM: combination not recommended - avoid unless the benefit outweighs the risk; "
             "if used, monitor closely.",
    "moderate": "ANSM: precaution for use - may be combined with the precautions needed (dose adjustment, monitoring).",
    "minor": "ANSM: take into account - be aware of the added risk; no specific action required.",
}

# Source spellings that differ from the catalogue's generic names.
NAME_ALIASES = {
    "ACETAMINOPHEN": "paracetamol", "IBUPROFIN": "ibuprofen", "METOPRALOL": "metoprolol", "GLYBURIDE": "glibenclamide",
    "SULFAMETHOXAZOL": "sulfamethoxazole", "INDOMETHACIN": "indometacin", "CHLORTHALIDONE": "chlortalidone",
    "CHOLESTYRAMINE": "colestyramine", "THYROXINE": "levothyroxine",
    # co-trimoxazole's interactions in this list (warfarin, phenytoin ...) are those of its sulfonamide.
    "COTRIMOXAZOLE": "sulfamethoxazole",
}

# Class names -> selectors over the catalogue, with the reason for each choice.
CLASS_MAP: dict[str, tuple[dict[str, list[str]], str]] = {
    "ANTACIDS": ({"atc": ["A02A"]}, "source ATC A02A"),
    "BETA BLOCKERS": ({"atc": ["C07A"]}, "source ATC C07A"),
    "CALCIUM": ({"atc": ["A12AA"]}, "source ATC A12A/A12AA; calcium salts in the catalogue"),
    "CALCIUM CHANNEL BLOCKERS": ({"atc": ["C08"]}, "source ATC C08"),
    "CONTRACEPTIVES, ORAL": ({"atc": ["G03A"], "ingredients": ["ethinylestradiol"]},
                             "source ATC G03A; ethinylestradiol (G03CA01) added as the oestrogen of combined pills"),
    "CORTICOSTEROIDS": ({"atc": ["H02AB"]}, "systemic glucocorticoids; the source's nasal/otic ATC ids are a mapping "
                                            "artefact for interactions of systemic steroids"),
    "ESTROGEN, CONJUGATED": ({"ingredients": ["conjugated estrogens"]}, "source ATC G03CA57"),
    "INSULIN": ({"atc": ["A10A"]}, "source ATC A10A"),
    "IRON": ({"atc": ["B03A"]}, "source ATC B03A"),
    "LITHIUM": ({"ingredients": ["lithium"]}, "source ATC N05AN"),
    "MAOIS": ({"atc": ["N04BD", "N06AF", "N06AG"]}, "source ATC N04BD, N06AF, N06AG"),
    "NARCOTIC ANALGESICS": ({"atc": ["N02A", "N01AH"]}, "source ATC N02A, N01AH"),
    "NITROGLYCERIN": ({"atc": ["C01DA"]}, "source ids are organic nitrates C01DA02/08/14/20/58"),
    "NSAIDS": ({"atc": ["M01A"]}, "source ATC M01A (ophthalmic S01BC not catalogued)"),
    "PENICILLIN": ({"atc": ["J01C"]}, "source ATC J01C"),
    "PENICILLINS": ({"atc": ["J01C"]}, "source ATC J01C"),
    "POTASSIUM": ({"atc": ["A12B"]}, "source ATC A12B"),
    "SALICYLATES": ({"atc": ["N02BA"]}, "source ATC N02BA (aminosalicylic acid, topical and veterinary codes "
                                         "in the source ids are not analgesic salicylates)"),
    "THIAZIDES": ({"atc": ["C03AA"]}, "source ATC C03AA"),
}
# Class names whose rows carry precise substance codes: resolve each row through its ATC id.
PER_ROW_ATC = {"BENZODIAZEPINE, LONG ACTING", "TRICYCLIC ANTIDEPRESSANTS"}
DROP = {
    "ETHANOL": "not a medicine (alcohol)",
    "ETHANOL (ALCOHOL)": "not a medicine (alcohol)",
    "TOBACCO": "not a medicine (tobacco smoke)",
    "KAOLIN PECTIN": "not in the catalogue (adsorbent antidiarrhoeal)",
    "TERFENADINE": "withdrawn from most markets in 1997-98; not in the catalogue",
}


class Unmapped(Exception):
    pass


def side(name: str, atc_id: str) -> dict[str, list[str]]:
    """The selector for one side of a source row."""
    catalogue = load_catalogue()
    clean = name.strip().upper()
    if clean in DROP:
        raise Unmapped(DROP[clean])
    if clean in CLASS_MAP:
        return CLASS_MAP[clean][0]
    if clean in PER_ROW_ATC:
        code = atc_id.removeprefix("ATC:")
        res = catalogue.resolve(code)
        if res is None:
            raise Unmapped(f"ATC {code} not in the catalogue")
        return {"ingredients": list(res.ingredients)}
    target = NAME_ALIASES.get(clean, clean.lower())
    res = catalogue.resolve(target)
    if res is None or len(res.ingredients) != 1:
        raise Unmapped(f"{name!r} not in the catalogue")
    return {"ingredients": list(res.ingredients)}


def _display(name: str) -> str:
    text = name.strip().lower()
    for word, shown in (("nsaids", "NSAIDs"), ("maois", "MAOIs")):
        text = text.replace(word, shown)
    return text


def describe(row: dict[str, str]) -> str:
    if row["source"] == ANSM:
        return row["description"].strip()
    label = row["source_severity_label"]
    effect = label.split("effect=", 1)[1].split(";", 1)[0] if "effect=" in label else ""
    verbs = {"augments": "may increase the effect of", "inhibits": "may decrease the effect of"}
    verb = verbs.get(effect, "interacts with")
    text = f"{_display(row['drug_a'])} {verb} {_display(row['drug_b'])}"
    if row["description"].strip():
        text += f": {row['description'].strip()}"
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def canon(sel: dict[str, list[str]]) -> str:
    return json.dumps({k: sorted(v) for k, v in sorted(sel.items())}, sort_keys=True)


def build(input_path: Path) -> dict[str, Any]:
    raw = input_path.read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    dropped: Counter[str] = Counter()
    self_pairs = 0
    for n, row in enumerate(rows, start=1):
        try:
            a = side(row["drug_a"], row["drug_a_id"])
            b = side(row["drug_b"], row["drug_b_id"])
        except Unmapped as exc:
            dropped[str(exc)] += 1
            continue
        if a == b and "ingredients" in a and len(a["ingredients"]) == 1:
            self_pairs += 1
            continue
        source = SOURCE_KEYS[row["source"]]
        mechanism = describe(row)
        ca, cb = canon(a), canon(b)
        # ANSM statements are symmetric; OSCAR's carry a direction in the text, so only identical text merges.
        pair = tuple(sorted((ca, cb)))
        key = (source, *pair, row["severity"], mechanism)
        entry = merged.get(key)
        if entry is None:
            merged[key] = entry = {
                "a": a, "b": b, "severity": row["severity"], "mechanism": mechanism,
                "management": ANSM_MANAGEMENT[row["severity"]] if source == "ansm-2016" else "",
                "source": source, "source_severity": row["source_severity_label"].strip(),
                "source_names": sorted({row["drug_a"].strip(), row["drug_b"].strip()}), "source_rows": [],
            }
        entry["source_rows"].append(n)
    entries = sorted(merged.values(), key=lambda e: (e["source"], canon(e["a"]), canon(e["b"]), e["severity"],
                                                      e["mechanism"]))
    for i, e in enumerate(entries, start=1):
        e["id"] = f"{'ansm' if e['source'] == 'ansm-2016' else 'oscar'}-{i:04d}"
        e["ref"] = f"rows {', '.join(map(str, e['source_rows'][:8]))}" + (" ..." if len(e["source_rows"]) > 8 else "")
    ordered = [{k: e[k] for k in ("id", "a", "b", "severity", "mechanism", "management", "source", "ref",
                                  "source_severity", "source_names", "source_rows")} for e in entries]
    return {
        "version": f"2025.1-src{SOURCE_COMMIT}-build{SCRIPT_VERSION}",
        "_comment": "GENERATED by scripts/build_ddi_knowledge.py - do not edit by hand. Every entry cites its source "
                    "(ansm-2016 or oscar-drugref) and the input rows it came from.",
        "input": {
            "file": "ddi_pairs_public.csv", "repository": "dbmi-pitt/public-PDDI-analysis", "commit": SOURCE_COMMIT,
            "sha256": hashlib.sha256(raw).hexdigest(), "rows": len(rows),
            "terms": "The repository has no licence file; the lists are published by their sources (ANSM, OSCAR "
                     "drugref). Each entry cites its source as the provenance note requires.",
        },
        "mapping": {"class_map": {k: {"selector": v[0], "reason": v[1]} for k, v in CLASS_MAP.items()},
                    "aliases": NAME_ALIASES, "per_row_atc": sorted(PER_ROW_ATC)},
        "dropped": {"rows": sum(dropped.values()) + self_pairs, "self_pairs": self_pairs,
                    "by_reason": dict(sorted(dropped.items()))},
        "sources": SOURCES,
        "entries": ordered,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output file is not up to date")
    args = parser.parse_args(argv)
    doc = build(args.input)
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python scripts/build_ddi_knowledge.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    kept = sum(len(e["source_rows"]) for e in doc["entries"])
    dropped = doc["dropped"]
    print(f"wrote {args.output}: {len(doc['entries'])} entries from {kept} of {doc['input']['rows']} rows "
          f"({dropped['rows']} dropped: {dropped['by_reason']}, self-pairs {dropped['self_pairs']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
