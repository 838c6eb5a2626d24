"""Exactly one ONNX Runtime: none or two installed is one clear error naming the pip command."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from advengine.errors import InstallError
from advengine.runtime import ORT_DISTRIBUTIONS, check_onnxruntime


def _finder(*present: str) -> Callable[[Iterable[str]], list[str]]:
    def find(names: Iterable[str]) -> list[str]:
        assert tuple(names) == ORT_DISTRIBUTIONS
        return [n for n in ORT_DISTRIBUTIONS if n in present]

    return find


def test_one_runtime_is_accepted() -> None:
    assert check_onnxruntime(_finder("onnxruntime")) == "onnxruntime"
    assert check_onnxruntime(_finder("onnxruntime-gpu")) == "onnxruntime-gpu"


def test_no_runtime_names_the_extras() -> None:
    with pytest.raises(InstallError, match=r"pip install 'advengine\[cpu\]' \(or 'advengine\[gpu\]'"):
        check_onnxruntime(_finder())


def test_two_runtimes_keep_the_gpu_one() -> None:
    with pytest.raises(InstallError) as info:
        check_onnxruntime(_finder("onnxruntime", "onnxruntime-gpu"))
    assert "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu" in str(info.value)


def test_this_environment_has_exactly_one() -> None:
    assert check_onnxruntime() in ORT_DISTRIBUTIONS
