"""The root package: its public names, their lazy loading and the stub that types them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import advengine

STUB = Path(advengine.__file__).with_suffix(".pyi")


def test_every_public_name_resolves() -> None:
    for name in advengine.__all__:
        assert getattr(advengine, name) is not None, name
    assert advengine.Model.__name__ == "Model"
    assert set(advengine.__all__) <= set(dir(advengine))


def test_the_stub_names_what_the_module_exports() -> None:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    stub_all = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
    )
    assert stub_all == advengine.__all__


def test_import_advengine_loads_no_onnx_runtime_until_a_name_is_used() -> None:
    code = "import sys, advengine; print('onnxruntime' in sys.modules, 'advengine.attacks' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
