"""`python -m citysentinel.text.defaults derive|card ...`: steps of scripts/train-text-defaults.

derive NAME IMPORTED_DIR OUT.jsonl   training rows of default model NAME (+ OUT.jsonl.json)
card NAME MODEL_DIR OUT.jsonl.json --command "..."   add data, licences and recipe to the card
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from citysentinel.text.card import render_markdown
from citysentinel.text.defaults.recipes import RECIPES, SOURCES, derive


def finish_card(
    name: str,
    model_dir: Path,
    derived: dict[str, Any],
    command: str,
    external: dict[str, Any] | None = None,
) -> None:
    """Add the recipe's task, data sources with licences, label counts and command to the card.

    `external` is `eval text --json` on unseen data (EXTERNAL_TESTS), when the recipe has one.
    """
    recipe = RECIPES[name]
    card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    card.update(
        {
            "name": name,
            "task": recipe.task,
            "languages": list(recipe.languages),
            "data_sources": [
                {"dataset": ds, "creators": SOURCES[ds][0], "licence": SOURCES[ds][1]}
                for ds in derived["sources"]
            ],
            "training_rows": {
                "n": derived["n"],
                "labels": derived["labels"],
                "langs": derived["langs"],
                "dropped_duplicates": derived["dropped_duplicates"],
            },
            "notes": derived["notes"],
            "recipe": "scripts/train-text-defaults (labels: citysentinel.text.defaults.recipes)",
            "command": command,
            "data": [Path(p).name for p in card.get("data", [])],
        }
    )
    if external is not None:
        card["external_test"] = {"data": EXTERNAL_DATA[name], **external}
    (model_dir / "card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    lines = [
        render_markdown(card).rstrip("\n"),
        "",
        f"## Default model `builtin:{name}`: {recipe.task}",
        "",
        f"- languages: {', '.join(recipe.languages)}",
        f"- training rows: {derived['n']} ({derived['labels']}); languages {derived['langs']}; "
        f"{derived['dropped_duplicates']} duplicates dropped",
        f"- TF-IDF terms kept (chi2): {card.get('max_terms')}",
        f"- command: `{command}`",
        "",
        "| dataset | creators | licence |",
        "|---|---|---|",
        *(f"| {d['dataset']} | {d['creators']} | {d['licence']} |" for d in card["data_sources"]),
        "",
        *(f"- {note}" for note in derived["notes"]),
        "",
        *_external_lines(card.get("external_test")),
    ]
    (model_dir / "card.md").write_text("\n".join(lines), encoding="utf-8")


EXTERNAL_DATA = {
    "relevance": "crisis/misc/DSM.csv (disasters on social media): informative -> relevant",
    "crisis-type": "crisis/misc ISCRAM2013 (2011 Joplin tornado -> flood_storm) and "
    "Ecuador_Earthquake_2016 (-> earthquake), informative tweets only",
}


def _external_lines(ext: dict[str, Any] | None) -> list[str]:
    if not ext:
        return []
    recall = {k: m["recall"] for k, m in ext["per_class"].items() if m["support"]}
    return [
        "## External test (unseen crises and data; not used for training or C)",
        "",
        f"{ext['data']}: n = {ext['n']}, accuracy = {ext['accuracy']}, "
        f"macro-F1 = {ext['macro_f1']} (labels absent from this data count as 0), "
        f"recall per present label = {recall}",
        "",
    ]


def main(argv: list[str]) -> int:
    """Run one recipe step; 2 on a usage error."""
    parser = argparse.ArgumentParser(prog="python -m citysentinel.text.defaults")
    sub = parser.add_subparsers(dest="step", required=True)
    d = sub.add_parser("derive", help="write the training rows of a default model")
    d.add_argument("name", choices=sorted(RECIPES))
    d.add_argument("imported", type=Path, help="folder of <dataset>.jsonl from `text import`")
    d.add_argument("out", type=Path)
    d.add_argument("--external", action="store_true", help="the unseen test rows instead")
    c = sub.add_parser("card", help="add data, licences and the command to a trained card")
    c.add_argument("name", choices=sorted(RECIPES))
    c.add_argument("model_dir", type=Path)
    c.add_argument("derived", type=Path, help="the OUT.jsonl.json written by derive")
    c.add_argument("--command", required=True, help="the training command, for the card")
    c.add_argument("--external", type=Path, help="`eval text --json` output on unseen data")
    args = parser.parse_args(argv)
    if args.step == "derive":
        try:
            info = derive(args.name, args.imported, args.out, external=args.external)
        except FileNotFoundError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        summary = json.dumps(dataclasses.asdict(info), ensure_ascii=False)
        Path(f"{args.out}.json").write_text(summary + "\n", encoding="utf-8")
        sys.stdout.write(summary + "\n")
        return 0
    derived = json.loads(args.derived.read_text(encoding="utf-8"))
    external = json.loads(args.external.read_text(encoding="utf-8")) if args.external else None
    finish_card(args.name, args.model_dir, derived, args.command, external)
    sys.stdout.write(f"card: {args.model_dir / 'card.md'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
