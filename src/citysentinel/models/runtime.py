"""onnxruntime sessions with the thread settings measured best on small CPU machines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

# One intra-op thread: on 2-vCPU machines two threads ran about twice as slow
# (docs/models.md), and several cameras each running one session share the cores.
DEFAULT_THREADS = 1


class TensorInfo(Protocol):
    """A graph input or output as onnxruntime describes it."""

    @property
    def name(self) -> str: ...

    @property
    def shape(self) -> Sequence[int | str | None]: ...


class Session(Protocol):
    """The part of `onnxruntime.InferenceSession` the project uses (tests pass fakes)."""

    def get_inputs(self) -> Sequence[TensorInfo]: ...

    def get_outputs(self) -> Sequence[TensorInfo]: ...

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]: ...


def onnxruntime_version() -> str:
    import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type information

    return str(ort.__version__)


def make_session(path: Path, threads: int = DEFAULT_THREADS) -> Session:
    """An onnxruntime CPU session for `path` with `threads` intra-op threads.

    Example:
        >>> session = make_session(model_path("nanodet"), threads=1)  # doctest: +SKIP
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Converted graphs trigger hundreds of harmless initializer warnings at load time.
    options.log_severity_level = 3
    session: Session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session
