"""Render a text model card (the JSON written next to the model) as Markdown."""

from __future__ import annotations

from typing import Any

CITATION = (
    "Data creators: CrisisLex (Olteanu et al. 2014, 2015), CrisisNLP (Imran et al. 2016), "
    "Figure Eight, CEC (Shanghai University), ChineseNlpCorpus, CLUE Emotion (Li et al. 2016), "
    "as applicable to the training files listed."
)


def render_markdown(card: dict[str, Any]) -> str:
    """Markdown: settings, split, C grid, per-class report and confusion matrix.

    Example:
        >>> render_markdown({"labels": ["a"], "validation": {}}).startswith("# Text classifier")
        True
    """
    val = card.get("validation", {})
    lines = [
        "# Text classifier",
        "",
        f"- classifier: {card.get('classifier', '?')}",
        f"- encoder: `{card.get('encoder', {})}`",
        f"- multi-label: {card.get('multi_label', False)}; labels: {len(card.get('labels', []))}",
        f"- training data: {', '.join(card.get('data', [])) or 'n/a'}",
        f"- split: `{card.get('split', {})}`",
        f"- C grid (validation macro-F1): `{card.get('c_grid_val_macro_f1', {})}`; "
        f"best C = {card.get('best_c')}",
        "",
        "## Validation (held-out groups; used to pick C, so slightly optimistic)",
        "",
        f"n = {val.get('n')}, accuracy = {val.get('accuracy')}, macro-F1 = {val.get('macro_f1')}, "
        f"micro-F1 = {val.get('micro_f1')}",
        "",
        "| label | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for name, m in val.get("per_class", {}).items():
        lines.append(f"| {name} | {m['precision']} | {m['recall']} | {m['f1']} | {m['support']} |")
    conf = val.get("confusion")
    if conf:
        lines += [
            "",
            "## Confusion matrix (rows true, columns predicted)",
            "",
            "| | " + " | ".join(conf["labels"]) + " |",
            "|---" * (len(conf["labels"]) + 1) + "|",
        ]
        for name, row in zip(conf["labels"], conf["matrix"], strict=True):
            lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", CITATION, ""]
    return "\n".join(lines)
