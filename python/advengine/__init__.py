"""advengine: adversarial attack and defense competitions on ONNX image classifiers.

The public Python API is re-exported here; ``advengine._core`` (the Rust extension) is private.
"""

from advengine._core import __version__
from advengine.errors import AdvEngineError

__all__ = ["AdvEngineError", "__version__"]
