"""Safe reading of torch checkpoints: both formats round-trip, and code-running pickles are refused
before anything runs."""

from __future__ import annotations

import pickle
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advengine.errors import CheckpointError, UnsafeCheckpointError
from advengine.models.checkpoint import allowed_globals, load_state_dict, sha256_file
from advengine.models.zoo import get_manifest

from .conftest import TorchWriter


def _state() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "fc.weight": rng.standard_normal((5, 6)).astype(np.float32),
        "bn.num_batches_tracked": np.array([42], dtype=np.int64),
        "half": rng.standard_normal((3,)).astype(np.float16),
        "scalar": np.array(2.5, dtype=np.float64),
    }


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_round_trip(fmt: str, tmp_path: Path, torch_writer: TorchWriter) -> None:
    state = _state()
    path = getattr(torch_writer, fmt)(tmp_path / "w.pth", state, transpose=frozenset({"fc.weight"}))
    assert zipfile.is_zipfile(path) == (fmt == "zip")
    got = load_state_dict(path)
    assert list(got) == list(state)
    for k, v in state.items():
        assert got[k].dtype == v.dtype, k
        assert got[k].shape == v.shape, k
        np.testing.assert_array_equal(got[k], v)


def test_real_weight_file_matches_manifest_and_reads() -> None:
    from advengine.models.build import weight_file_path

    m = get_manifest("efficientnet-lite0")
    state = load_state_dict(weight_file_path(m), sha256=m.sha256)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(np.isfinite(v).all() for v in state.values())


def test_sha256_mismatch_is_refused_before_unpickling(tmp_path: Path, torch_writer: TorchWriter) -> None:
    path = torch_writer.legacy(tmp_path / "w.pth", _state())
    with pytest.raises(CheckpointError, match="sha256"):
        load_state_dict(path, sha256="0" * 64)
    assert load_state_dict(path, sha256=sha256_file(path))["scalar"] == 2.5


def _legacy_with(payload: bytes) -> bytes:
    head = b"".join(
        pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    )
    return head + payload


# Hand-written pickles: each would create the marker file if its global were resolved and called.
def _evil_pickles(marker: Path) -> dict[str, bytes]:
    cmd = f"touch {marker}".encode()
    return {
        "os.system": b"cos\nsystem\n(S'" + cmd + b"'\ntR.",
        "posix.system": b"cposix\nsystem\n(S'" + cmd + b"'\ntR.",
        "builtins.eval": b'cbuiltins\neval\n(S\'__import__("pathlib").Path("'
        + str(marker).encode()
        + b"\").touch()'\ntR.",
        "subprocess.call": b"csubprocess\ncall\n((S'touch'\nS'" + str(marker).encode() + b"'\nltR.",
        "builtins.getattr": b"cbuiltins\ngetattr\n(cbuiltins\nobject\nS'__subclasses__'\ntR.",
    }


@pytest.mark.parametrize(
    "name", ["os.system", "posix.system", "builtins.eval", "subprocess.call", "builtins.getattr"]
)
@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_malicious_pickle_is_refused_and_nothing_runs(name: str, fmt: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = _evil_pickles(marker)[name]
    # Sanity check of the test itself: the payload really runs when fed to the stdlib unpickler.
    if name != "builtins.getattr":
        probe = tmp_path / "probe"
        pickle.loads(payload.replace(str(marker).encode(), str(probe).encode()))
        assert probe.exists()
    path = tmp_path / "evil.pth"
    if fmt == "legacy":
        path.write_bytes(_legacy_with(payload))
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafeCheckpointError, match=name.replace(".", r"\.")) as info:
        load_state_dict(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_global_in_header_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(_evil_pickles(marker)["os.system"])
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
        load_state_dict(path)
    assert not marker.exists()


def test_allowed_globals_are_only_tensor_rebuilders() -> None:
    allowed = allowed_globals()
    assert "collections.OrderedDict" in allowed
    assert "torch._utils._rebuild_tensor_v2" in allowed
    assert all(g.startswith(("torch.", "collections.OrderedDict")) for g in allowed)
    assert not any("system" in g or "eval" in g or "exec" in g for g in allowed)


def test_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    path.write_bytes(_legacy_with(pickle.dumps([1, 2, 3], protocol=2) + pickle.dumps([], protocol=2)))
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_state_dict(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a PyTorch checkpoint"),
        (b"hello world, not a pickle", "not a PyTorch checkpoint"),
        (pickle.dumps(12345, protocol=2), "bad magic number"),
    ],
)
def test_garbage_is_one_clear_error(content: bytes, match: str, tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_state_dict(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_state_dict(tmp_path / "nope.pth")


def test_truncated_legacy_data(tmp_path: Path, torch_writer: TorchWriter) -> None:
    path = torch_writer.legacy(tmp_path / "w.pth", _state())
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(path)


def test_tensor_past_its_storage_is_refused(tmp_path: Path, torch_writer: TorchWriter) -> None:
    path = torch_writer.legacy(tmp_path / "w.pth", {"w": np.arange(6, dtype=np.float32)})
    raw = bytearray(path.read_bytes())
    # Shrink the stored element count of the only storage (7 = 1 pad + 6) to 4, dropping its tail.
    tail = struct.pack("<q", 7) + np.concatenate([[0], np.arange(6)]).astype("<f4").tobytes()
    assert raw.endswith(tail)
    raw[-len(tail) :] = struct.pack("<q", 4) + np.zeros(4, "<f4").tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="reaches past its storage"):
        load_state_dict(path)


def test_zip_missing_storage_file(tmp_path: Path, torch_writer: TorchWriter) -> None:
    good = torch_writer.zip(tmp_path / "w.pth", {"w": np.ones(3, np.float32)})
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for n in src.namelist():
            if "/data/" not in n:
                dst.writestr(n, src.read(n))
    with pytest.raises(CheckpointError, match="is missing"):
        load_state_dict(bad)


_DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8])
_SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


# The writer fixture is stateless (it only installs the fake torch modules), so sharing it is safe.
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    arrays=st.lists(hnp.arrays(_DTYPES, _SHAPES, elements={"allow_nan": False}), min_size=1, max_size=4),
    fmt=st.sampled_from(["legacy", "zip"]),
)
def test_round_trip_property(arrays: list[np.ndarray], fmt: str, torch_writer: TorchWriter) -> None:
    state = {f"t{i}": a for i, a in enumerate(arrays)}
    transpose = frozenset(k for k, a in state.items() if a.ndim == 2)
    with tempfile.TemporaryDirectory() as d:
        got = load_state_dict(getattr(torch_writer, fmt)(Path(d) / "w.pth", state, transpose=transpose))
    assert list(got) == list(state)
    for k, v in state.items():
        assert got[k].dtype == v.dtype
        np.testing.assert_array_equal(got[k], v)


def test_stride_zero_tensor_larger_than_its_storage_is_refused() -> None:
    """A one-element storage viewed as 32768² by stride 0 once allocated 4 GiB before any check."""
    from advengine.models.checkpoint import _materialise, _StorageRef, _TensorRef

    storage = _StorageRef("0", np.dtype("<f4"), 1, np.zeros(1, "<f4"))
    ref = _TensorRef(storage, 0, (1 << 15, 1 << 15), (0, 0))
    with pytest.raises(CheckpointError, match="has more elements than its storage"):
        _materialise("w", ref, "w.pth")
