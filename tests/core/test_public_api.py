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


def test_a_type_checker_sees_the_public_api(tmp_path: Path) -> None:
    """Through __init__.pyi and the generated classes, mypy checks users' calls: a wrong parameter type
    is an error, the rest passes."""
    user = tmp_path / "user.py"
    user.write_text(
        "import numpy as np\n"
        "import advengine\n"
        "model = advengine.Model.load('efficientnet-lite0')\n"
        "x = np.zeros((1, 299, 299, 3), np.uint8)\n"
        "adv = advengine.attacks.MIFGSM(model, iterations=10)(x, eps=16)\n"
        "robust: float = advengine.evaluate(model, 'pgd', x, [1], 16).robust_accuracy\n"
        "bad = advengine.attacks.MIFGSM(model, iterations='ten')\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "c"),
            str(user),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout
    assert 'user.py:7: error: Argument "iterations" to "MIFGSM" has incompatible type "str"' in errors[0]
