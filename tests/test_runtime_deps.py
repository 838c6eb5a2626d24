"""The package imports with its runtime dependencies only: dev tools (scipy, pytest, hypothesis) must
not be needed by `pip install advengine` users."""

from __future__ import annotations

import subprocess
import sys

DEV_ONLY = ("scipy", "pytest", "hypothesis", "torch", "torchvision", "timm", "onnx2torch")


def test_cli_and_api_import_without_dev_packages() -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {DEV_ONLY!r}:\n"
        "            raise ImportError(f'dev-only package {name} imported at run time')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import advengine.cli, advengine.api, advengine.competition, advengine.submissions\n"
        "from advengine.cli import main\n"
        "raise SystemExit(main(['list', '--json']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
