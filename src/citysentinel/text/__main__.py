"""`python -m citysentinel.text import NAME PATH OUT.jsonl`: a corpus into canonical JSONL."""

from __future__ import annotations

import sys
from pathlib import Path

from citysentinel.text.datasets import DATASET_NAMES, import_dataset
from citysentinel.text.records import write_jsonl


def main(argv: list[str]) -> int:
    """Import corpus `NAME` from `PATH` into `OUT.jsonl`; prints the record count."""
    if len(argv) != 4 or argv[0] != "import":
        sys.stderr.write(f"usage: import NAME PATH OUT.jsonl (NAME: {', '.join(DATASET_NAMES)})\n")
        return 2
    n = write_jsonl(import_dataset(argv[1], Path(argv[2])), Path(argv[3]))
    sys.stdout.write(f"{n} records -> {argv[3]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
