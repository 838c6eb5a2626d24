"""The attack FCN of team iwiwi (PFN), fourth in the NIPS 2017 non-targeted track: one forward pass
of a fully convolutional network turns an image into an adversarial one (report section 5.7).
Written with ``onnx.helper`` on DUNET's encoder–decoder (:func:`advengine.models.dunet.unet`).

x_adv = clip(x + ε·tanh(h_ε(x, g)), 0, 1), so the perturbation lies in [−ε, ε] by construction:

* **gradient hints**: g = sign(∇ₓ CE) of one zoo model at its own prediction (the *hint model*),
  computed by the caller, enters as 3 extra input channels beside the image;
* **multi-task**: one 1×1 output head per integer ε from 4 to 16 (13 heads) on the decoder's
  features and the hint; the budget picks the head (outside 4–16, the nearest head, still scaled by
  the real ε);
* the graph takes one packed input (the gradient compiler differentiates graphs with one input):
  ``input`` [N, 8, S, S] = image (3), hint (3), ε in [0, 1] units (1 plane), the head's ε in pixels
  (1 plane); :func:`pack_input` builds it.

Initialisation: the encoder–decoder is He-normal; every head starts as ``HINT_GAIN``·g (its weights on
the hint channels are the identity times the gain, the rest zero), so the untrained FCN is FGSM along
the hint (ε·tanh(2·sign g) ≈ 0.96 ε·sign g) and training learns a correction to it rather than
starting from nothing (a choice of ours; the report does not give iwiwi's initialisation).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import numpy.typing as npt
import onnx
from pydantic import Field

from advengine.errors import ModelError, ParameterError
from advengine.models.dunet import (
    GraphWriter,
    check_weights,
    conv_shapes,
    finish_model,
    he_normal,
    read_props,
    unet,
    unet_convs,
    unet_sides,
)
from advengine.params import Params, parse_params

F32 = npt.NDArray[np.float32]
INPUT = "input"
OUTPUT = "adv"
PREFIX = "fcn."
#: The integer budgets with a head of their own (pixels).
EPS_HEADS = tuple(range(4, 17))
#: Input planes: image, hint, ε, head ε.
IN_CHANNELS = 8
HINT_GAIN = 2.0
DEFAULT_CHANNELS = (8, 16, 32, 64)
HEADS = f"{PREFIX}heads"
#: The shipped weights (in the package, beside the HGD denoiser).
SHIPPED = Path(__file__).parent / "weights" / "attack-fcn.json"


@dataclass(frozen=True)
class FcnConfig:
    """The network's shape: image side and encoder–decoder channels per level."""

    size: int = 299
    channels: tuple[int, ...] = DEFAULT_CHANNELS

    def __post_init__(self) -> None:
        if len(self.channels) < 2 or any(c < 1 for c in self.channels):
            raise ParameterError(f"the FCN needs ≥ 2 levels of positive channels, got {list(self.channels)}")
        if self.size < 2 ** len(self.channels):
            raise ParameterError(f"FCN side {self.size} is too small for {len(self.channels)} levels")

    def sides(self) -> list[int]:
        return unet_sides(self.size, len(self.channels))

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape: the encoder–decoder (6 inputs: image and hint), then the
        13 heads as one 1×1 conv on its features and the hint (3 outputs per head)."""
        c0 = self.channels[0]
        body = conv_shapes(unet_convs(self.channels, 6, c0), prefix=PREFIX)
        heads = conv_shapes([("heads", c0 + 3, 3 * len(EPS_HEADS))], prefix=PREFIX, kernel=1)
        return body | heads


def init_params(config: FcnConfig, seed: int) -> dict[str, F32]:
    """He-normal encoder–decoder, zero biases, heads = FGSM along the hint (module docstring)."""
    rng = np.random.default_rng(seed)
    out: dict[str, F32] = {}
    for name, shape in config.shapes().items():
        if name.endswith(".bias") or name.startswith(HEADS):
            out[name] = np.zeros(shape, np.float32)
        else:
            out[name] = he_normal(shape, rng)
    c0 = config.channels[0]
    w = out[f"{HEADS}.weight"]
    for h in range(len(EPS_HEADS)):
        for ch in range(3):
            w[3 * h + ch, c0 + ch, 0, 0] = HINT_GAIN
    return out


def head_eps(eps_px: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The head each integer budget uses: itself within 4–16, else the nearest end."""
    return np.clip(np.asarray(eps_px, np.float32), EPS_HEADS[0], EPS_HEADS[-1]).astype(np.float32)


def pack_input(x: F32, hint: F32, eps_px: npt.ArrayLike) -> F32:
    """The FCN's ``input``: images [N, 3, S, S] in [0, 1], hints of the same shape, and one integer
    budget per image (or one for all) in pixels."""
    n, _, h, w = x.shape
    if hint.shape != x.shape:
        raise ModelError(f"the FCN's hint has shape {list(hint.shape)}, its images {list(x.shape)}")
    eps = np.broadcast_to(np.asarray(eps_px, np.float32), (n,))
    out = np.empty((n, IN_CHANNELS, h, w), np.float32)
    out[:, 0:3] = x
    out[:, 3:6] = hint
    out[:, 6] = (eps / 255.0).reshape(n, 1, 1)
    out[:, 7] = head_eps(eps).reshape(n, 1, 1)
    return out


def build_fcn(config: FcnConfig, params: dict[str, F32]) -> onnx.ModelProto:
    """``input`` float32 [N, 8, S, S] (see :func:`pack_input`) → ``adv`` [N, 3, S, S] in [0, 1]."""
    check_weights("FCN", config.channels, config.shapes(), params)
    w = GraphWriter(PREFIX)
    s = config.size

    def planes(lo: int, hi: int, name: str, spatial: int | None = None) -> str:
        ends = [hi] if spatial is None else [hi, spatial, spatial]
        starts = [lo] if spatial is None else [lo, 0, 0]
        axes = [1] if spatial is None else [1, 2, 3]
        return w.node(
            "Slice",
            [
                INPUT,
                w.constant(f"{name}.starts", np.array(starts, np.int64)),
                w.constant(f"{name}.ends", np.array(ends, np.int64)),
                w.constant(f"{name}.axes", np.array(axes, np.int64)),
            ],
            name,
        )

    x = planes(0, 3, f"{PREFIX}x")
    hint = planes(3, 6, f"{PREFIX}hint")
    features = unet(w, planes(0, 6, f"{PREFIX}x_hint"), len(config.channels), config.sides(), out_relu=True)
    cat = w.node("Concat", [features, hint], f"{HEADS}.cat", axis=1)
    heads = w.conv(cat, "heads", relu=False, kernel=1)  # [N, 13·3, S, S]
    k = len(EPS_HEADS)
    heads5 = w.node(
        "Reshape", [heads, w.constant(f"{HEADS}.shape", np.array([-1, k, 3, s, s]))], f"{HEADS}.5d"
    )
    # Head mask [N, 13, 1, 1, 1]: max(0, 1 − |e − c|), one-hot for the integer head ε e.
    e = planes(7, 8, f"{PREFIX}head_eps", spatial=1)
    centres = w.constant(f"{PREFIX}centres", np.array(EPS_HEADS, np.float32).reshape(1, k, 1, 1))
    dist = w.node("Abs", [w.node("Sub", [e, centres], f"{PREFIX}diff")], f"{PREFIX}dist")
    one = w.constant(f"{PREFIX}one", np.array(1.0, np.float32))
    mask = w.node("Relu", [w.node("Sub", [one, dist], f"{PREFIX}closeness")], f"{PREFIX}mask")
    mask5 = w.node(
        "Reshape", [mask, w.constant(f"{PREFIX}mask.shape", np.array([-1, k, 1, 1, 1]))], f"{PREFIX}mask5"
    )
    picked = w.node("Mul", [heads5, mask5], f"{PREFIX}picked")
    axis = w.constant(f"{PREFIX}head_axis", np.array([1], np.int64))
    h = w.node("ReduceSum", [picked, axis], f"{PREFIX}h", keepdims=0)
    eps = planes(6, 7, f"{PREFIX}eps", spatial=1)
    a = w.node("Mul", [w.node("Tanh", [h], f"{PREFIX}tanh"), eps], f"{PREFIX}a")
    zero = w.constant(f"{PREFIX}zero", np.array(0.0, np.float32))
    w.node("Clip", [w.node("Add", [x, a], f"{PREFIX}x_plus_a"), zero, one], OUTPUT)
    weights = {n: params[n] for n in config.shapes()}
    return finish_model(w, "attack-fcn", "fcn", (IN_CHANNELS, 3), s, config.channels, weights)


def read_fcn(model: onnx.ModelProto) -> tuple[FcnConfig, dict[str, F32]]:
    """The config and weights of an FCN written by :func:`build_fcn` (from its properties)."""
    channels, size, weights = read_props(model, "fcn", "an attack FCN")
    config = FcnConfig(size, channels)
    params = {n: weights[n] for n in config.shapes() if n in weights}
    check_weights("FCN", config.channels, config.shapes(), params)
    return config, params


class FcnManifest(Params):
    """The JSON beside a trained FCN: which file, its sha256 (checked on load), and what it assumes."""

    name: str
    #: The ONNX file, relative to the manifest.
    file: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    #: The zoo model whose input gradient is the hint (the attack computes it).
    hint_model: str
    #: The models whose CE losses it was trained to raise (for the record).
    sources: tuple[str, ...]
    steps: Annotated[int, Field(ge=0)] = 0
    images_seen: Annotated[int, Field(ge=0)] = 0
    description: str = ""


def write_fcn(
    config: FcnConfig,
    params: dict[str, F32],
    out: Path,
    *,
    name: str,
    hint_model: str,
    sources: tuple[str, ...],
    steps: int,
    images_seen: int,
) -> tuple[bytes, FcnManifest]:
    """The ONNX bytes and the manifest of a trained FCN (the caller writes them, atomically)."""
    data = build_fcn(config, params).SerializeToString()
    manifest = FcnManifest(
        name=name,
        file=f"{name}.onnx",
        sha256=hashlib.sha256(data).hexdigest(),
        hint_model=hint_model,
        sources=sources,
        steps=steps,
        images_seen=images_seen,
        description=f"attack FCN (channels {list(config.channels)}) trained by `advengine train attack-fcn`",
    )
    return data, manifest


def load_fcn(manifest_path: Path) -> tuple[onnx.ModelProto, FcnManifest]:
    """The FCN of a manifest, its file checked against the manifest's sha256."""
    where = f"FCN manifest {manifest_path}"
    try:
        raw = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{where} not found; train one with `advengine train attack-fcn`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{where} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{where} must be a JSON object")
    manifest = parse_params(FcnManifest, raw, where)
    path = manifest_path.parent / manifest.file
    try:
        data = path.read_bytes()
    except OSError:
        raise ModelError(f"{where}: its weights {path} are missing") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.sha256:
        raise ModelError(
            f"{path} has sha256 {digest[:12]}…, its manifest says {manifest.sha256[:12]}…; the file is "
            "damaged or was replaced: restore it or retrain"
        )
    model = onnx.load_from_string(data)
    read_fcn(model)  # its properties and weights fit
    return model, manifest


__all__ = [
    "EPS_HEADS",
    "INPUT",
    "IN_CHANNELS",
    "OUTPUT",
    "SHIPPED",
    "FcnConfig",
    "FcnManifest",
    "build_fcn",
    "head_eps",
    "init_params",
    "load_fcn",
    "pack_input",
    "read_fcn",
    "write_fcn",
]
