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
        *_selection(card),
        "",
        "## Validation (held-out groups; used to pick C / the epoch, so slightly optimistic)",
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


def _selection(card: dict[str, Any]) -> list[str]:
    """How the model was chosen: the C grid (linear heads) or the epochs (fine-tuning)."""
    training = card.get("training")
    if training is None:
        grid = card.get("c_grid_val_macro_f1", {})
        return [f"- C grid (validation macro-F1): `{grid}`; best C = {card.get('best_c')}"]
    epochs = ", ".join(
        f"{h['epoch']}: loss {h['train_loss']}, F1 {h['val_macro_f1']}" for h in training["history"]
    )
    int8 = card.get("validation_int8", {})
    return [
        f"- fine-tuning: lr {training['lr']}, batch {training['batch_size']}, "
        f"warmup {training['warmup_fraction']}, {training['seconds']} s",
        f"- epochs (train loss, validation macro-F1): {epochs}",
        f"- int8 ONNX on validation: macro-F1 {int8.get('macro_f1')}, accuracy "
        f"{int8.get('accuracy')}, agreement with torch {card.get('validation_int8_agreement')}",
    ]
