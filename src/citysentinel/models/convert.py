"""Convert TensorFlow.js graph models to ONNX with tf2onnx in a throwaway venv."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from citysentinel.models.fetch import InstallError, Progress, run_tool
from citysentinel.models.manifest import Converter

# TF.js drops attributes TensorFlow needs to rebuild these ops; tf2onnx then fails.
_FUSED_CONV_OPS = ("_FusedConv2D", "FusedDepthwiseConv2dNative")


def patch_tfjs_graph(model: dict[str, Any]) -> int:
    """Add the attributes tf2onnx needs to a TF.js model.json (in place); return nodes patched.

    `_FusedConv2D` / `FusedDepthwiseConv2dNative` get `TArgs` (one DT_FLOAT per fused
    argument, `num_args` of them) and `TopKV2` gets `index_type=DT_INT32`.

    Example:
        >>> m = {"modelTopology": {"node": [{"op": "TopKV2", "attr": {}}]}}
        >>> patch_tfjs_graph(m), m["modelTopology"]["node"][0]["attr"]["index_type"]
        (1, {'type': 'DT_INT32'})
    """
    patched = 0
    for node in model["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] in _FUSED_CONV_OPS and "TArgs" not in attr:
            count = int(attr.get("num_args", {}).get("i", len(node["input"]) - 2))
            attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * count}}
            patched += 1
        elif node["op"] == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
            patched += 1
    return patched


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_converter_venv(venv: Path, converter: Converter, progress: Progress) -> Path:
    """Create the conversion venv once (TensorFlow CPU + tf2onnx) and return its python."""
    marker = venv / ".citysentinel-complete"
    wanted = "\n".join(converter.packages)
    python = _venv_python(venv)
    if marker.is_file() and marker.read_text(encoding="utf-8") == wanted and python.is_file():
        progress(f"using conversion venv {venv}")
        return python
    progress(f"creating conversion venv {venv} ({' '.join(converter.packages)}; a few minutes)")
    run_tool(
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        what="python -m venv (on Debian/Ubuntu install python3-venv)",
    )
    run_tool(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *converter.packages],
        what=f"pip install {' '.join(converter.packages)} into the conversion venv",
    )
    marker.write_text(wanted, encoding="utf-8")
    return python


def convert_tfjs(
    python: Path, model_json: Path, out: Path, *, patch: bool, opset: int, progress: Progress
) -> Path:
    """Convert `model_json` (weights next to it) to `out` with tf2onnx; patch the graph first."""
    source = model_json
    if patch:
        model = json.loads(model_json.read_text(encoding="utf-8"))
        count = patch_tfjs_graph(model)
        source = model_json.with_name(model_json.stem + ".patched.json")
        source.write_text(json.dumps(model), encoding="utf-8")
        progress(f"patched {count} nodes of {model_json.name}")
    progress(f"converting {model_json.name} to ONNX with tf2onnx (opset {opset}) ...")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(python), "-m", "tf2onnx.convert", "--tfjs", str(source)]
    run_tool([*cmd, "--output", str(out), "--opset", str(opset)], what=f"tf2onnx on {source.name}")
    if not out.is_file():
        raise InstallError(f"tf2onnx did not write {out}")
    return out
