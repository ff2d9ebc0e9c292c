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


# Run by the conversion venv's python (it has `onnx`, pulled in by tf2onnx): the main
# environment needs only onnxruntime. argv: source, output, JSON {tensor: new shape}.
_DYNAMIC_DIMS_SCRIPT = """
import json, sys
import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims
src, out, dims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = onnx.load(src)
graph = model.graph
# Old exporters list every weight as a graph input too; onnxruntime then cannot
# constant-fold them (batch-norm fusion among others), so drop those inputs.
weights = {init.name for init in graph.initializer}
for value in [v for v in graph.input if v.name in weights]:
    graph.input.remove(value)
used = {name for node in graph.node for name in node.input}
for init in [i for i in graph.initializer if i.name not in used]:
    graph.initializer.remove(init)  # e.g. batch-norm counters no node reads
def declared(values):
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in values}
inputs, outputs = declared(graph.input), declared(graph.output)
unknown = sorted(set(dims) - set(inputs) - set(outputs))
if unknown:
    sys.exit("no graph input or output named " + ", ".join(unknown))
inputs.update({k: v for k, v in dims.items() if k in inputs})
outputs.update({k: v for k, v in dims.items() if k in outputs})
# Stale shapes inferred for the placeholder size would contradict the new dims.
del graph.value_info[:]
model = update_inputs_outputs_dims(model, inputs, outputs)
onnx.checker.check_model(model)
onnx.save(model, out)
sys.stdout.write(onnx.__version__ + "\\n")  # the reply to the parent, read from stdout
"""


def make_dims_dynamic(
    python: Path, source: Path, out: Path, dims: dict[str, list[int | str]], progress: Progress
) -> str:
    """Rewrite the declared shapes of `source`'s inputs/outputs (`dims`) into `out`.

    Runs `onnx.tools.update_model_dims` in the conversion venv (the main environment
    has no `onnx`); also drops weights listed as graph inputs (so onnxruntime can fold
    them) and weights no node reads. Returns the onnx version used, for the model card.

    Example:
        >>> dims = {"input.1": ["B", 3, "H", "W"]}
        >>> make_dims_dynamic(python, source, out, dims, print)  # doctest: +SKIP
        '1.17.0'
    """
    progress(f"making the declared dims of {source.name} dynamic with onnx ...")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(python), "-c", _DYNAMIC_DIMS_SCRIPT, str(source), str(out), json.dumps(dims)]
    version = run_tool(cmd, what=f"onnx update_model_dims on {source.name}").strip()
    if not out.is_file():
        raise InstallError(f"the dims step did not write {out}")
    return version.splitlines()[-1] if version else "unknown"
