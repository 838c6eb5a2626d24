"""The PyTorch peer of the gradient benchmarks: the project's own ONNX zoo models converted with
onnx2torch (same weights), an ensemble with the same bilinear resize (PyTorch's ``align_corners=False``,
no antialias, as the source graphs) and logit fusion, and the MI-FGSM update in torch ops.

``mode`` is ``eager`` or ``compile`` (``torch.compile``, inductor, default options): the compiled
module's forward and backward are both inductor graphs (AOTAutograd); the first call compiles, so
callers time it apart as the warm-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advengine.models import ensure_onnx

MEMBERS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
NATIVE = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}


def ensemble(
    names: Sequence[str], weights: Sequence[float] | None, mode: str, threads: int, device: str = "cpu"
) -> Any:
    """A torch module on ``device``: [n, 3, S, S] in [0, 1] → fused logits Σ wᵢ·modelᵢ(resize(x))
    (weights normalised)."""
    import onnx
    import torch
    from onnx2torch import convert

    torch.set_num_threads(threads)
    ws = [1.0] * len(names) if weights is None else [float(w) for w in weights]
    ws = [w / sum(ws) for w in ws]

    class Ensemble(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.members = torch.nn.ModuleList(convert(onnx.load(str(ensure_onnx(n)))).eval() for n in names)
            self.sizes = [NATIVE[n] for n in names]

        def forward(self, x: Any) -> Any:
            out = 0
            for model, size, w in zip(self.members, self.sizes, ws, strict=True):
                xi = x
                if x.shape[-1] != size:
                    xi = torch.nn.functional.interpolate(
                        x, size=(size, size), mode="bilinear", align_corners=False, antialias=False
                    )
                out = out + w * model(xi)
            return out

    module = Ensemble().eval().to(device)
    for p in module.parameters():
        p.requires_grad_(False)
    if mode == "compile":
        return torch.compile(module)
    if mode != "eager":
        raise ValueError(f"mode must be eager or compile, got {mode!r}")
    return module


def logits_and_grad(model: Any, x: Any, labels: Any | None) -> tuple[Any, Any, Any]:
    """(logits, d Σ CE / dx, labels); ``labels`` None: the model's own prediction at x, taken from this
    forward's logits (no extra pass), as advengine's attacks do."""
    import torch

    x = x.detach().requires_grad_(True)
    logits = model(x)
    if labels is None:
        labels = logits.detach().argmax(dim=1)
    loss = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    return logits.detach(), g, labels


def mifgsm_update(x: Any, x0: Any, m: Any, g: Any, *, eps: float, alpha: float, mu: float) -> tuple[Any, Any]:
    """m' = μm + g/mean|g| (per image), x' = clip(proj(x + α·sign(m'))), as advengine's fused step."""
    import torch

    with torch.no_grad():
        mean_abs = g.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
        m = mu * m + g / mean_abs
        x = x + alpha * torch.sign(m)
        x = torch.clamp(torch.minimum(torch.maximum(x, x0 - eps), x0 + eps), 0.0, 1.0)
    return x, m
