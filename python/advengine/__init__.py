"""advengine: adversarial attack and defense competitions on ONNX image classifiers.

The public Python API is re-exported here; ``advengine._core`` (the Rust extension) is private.
"""

from advengine._core import __version__
from advengine.errors import AdvEngineError
from advengine.runtime import check_onnxruntime

# Fails at once, with the pip command that fixes it, when no ONNX Runtime or two are installed.
check_onnxruntime()

__all__ = ["AdvEngineError", "__version__"]
