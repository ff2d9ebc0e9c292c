"""An opt-in file cache of frozen embeddings, so cross-event evaluation encodes each text once.

Evaluation trains a head per held-out event and refits it; without a cache a
frozen encoder would embed the same tweets dozens of times. Inside
`embedding_cache(folder)`, frozen encoders look texts up by hash and write the
new vectors to `<folder>/<encoder key>.npy` / `.keys.npy` when the block ends.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
CHUNK = 1000  # texts encoded between saves of the cache file


@dataclass
class _Store:
    folder: Path | None
    tables: dict[str, dict[bytes, Vectors]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def table(self, key: str) -> dict[bytes, Vectors]:
        if key not in self.tables:
            self.tables[key] = {}
            if self.folder is None:
                return self.tables[key]
            keys_file, vec_file = self._files(key)
            if keys_file.is_file() and vec_file.is_file():
                keys, vecs = np.load(keys_file), np.load(vec_file)
                self.tables[key] = {k.tobytes(): v for k, v in zip(keys, vecs, strict=True)}
                log.info("embedding cache %s: %d vectors", vec_file, len(keys))
        return self.tables[key]

    def save(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for key in self.dirty:
            table = self.tables[key]
            keys_file, vec_file = self._files(key)
            keys = np.array([np.frombuffer(k, dtype=np.uint8) for k in table], dtype=np.uint8)
            np.save(keys_file, keys)
            np.save(vec_file, np.stack(list(table.values())).astype(np.float32))
        self.dirty.clear()

    def _files(self, key: str) -> tuple[Path, Path]:
        assert self.folder is not None  # only called for file-backed stores
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
        return self.folder / f"{safe}.keys.npy", self.folder / f"{safe}.npy"


_ACTIVE: list[_Store] = []


@contextmanager
def embedding_cache(folder: Path | None) -> Iterator[None]:
    """Cache frozen embeddings under `folder` (None: in memory only) while the block runs.

    With `folder=None` inside another cache block the outer cache is used.

    Example:
        >>> with embedding_cache(Path("var/emb/t26")):  # doctest: +SKIP
        ...     cross_validate(data, scheme="groups", config=config)
    """
    if folder is None and _ACTIVE:
        yield  # an outer cache is active: use it (it may be file-backed)
        return
    store = _Store(folder)
    _ACTIVE.append(store)
    try:
        yield
    finally:
        _ACTIVE.remove(store)
        store.save()


def cached_encode(
    key: str, texts: Sequence[str], encode: Callable[[Sequence[str]], Vectors]
) -> Vectors:
    """`encode(texts)`, served from the active cache where it holds the text (else computed)."""
    if not _ACTIVE or not texts:
        return encode(texts)
    store = _ACTIVE[-1]
    table = store.table(key)
    hashes = [hashlib.sha1(t.encode("utf-8"), usedforsecurity=False).digest() for t in texts]
    missing = sorted({h: i for i, h in enumerate(hashes) if h not in table}.values())
    for start in range(0, len(missing), CHUNK):
        part = missing[start : start + CHUNK]
        fresh = encode([texts[i] for i in part])
        for i, row in zip(part, fresh, strict=True):
            table[hashes[i]] = row
        store.dirty.add(key)
        if len(missing) > CHUNK:  # long jobs: show progress, keep what is done if stopped
            log.info("%s: encoded %d/%d new texts", key, start + len(part), len(missing))
            store.save()
    return np.stack([table[h] for h in hashes]).astype(np.float32)
