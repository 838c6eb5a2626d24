"""The one exception tree of advengine.

Every error a user can cause derives from :class:`AdvEngineError` and carries a one-line message that
says what is wrong and how to fix it. Classes also derive from the built-in exception that fits, so
``except ValueError`` keeps working for callers who do not know advengine.

The Rust kernels raise these same classes (``rust/src/funnel.rs`` looks them up by name), so this
module must not import ``advengine._core``.
"""

from __future__ import annotations


class AdvEngineError(Exception):
    """Root of every error advengine raises on purpose."""


class ConfigError(AdvEngineError, ValueError):
    """A configuration file or value is invalid."""


class ParameterError(AdvEngineError, ValueError):
    """A parameter is outside its documented range."""


class ShapeError(AdvEngineError, ValueError):
    """Arrays have the wrong shape, dtype or layout for an operation."""


class ImageError(AdvEngineError, ValueError):
    """An image is missing, unreadable, or not in the expected size or mode."""


class ImageDecodeError(ImageError):
    """Bytes that are not a usable PNG image."""


class ImageFileError(ImageError):
    """An image file that cannot be read, decoded or written."""


class DatasetError(AdvEngineError, ValueError):
    """A dataset directory or its CSV is malformed."""


class DownloadError(AdvEngineError):
    """Fetching dataset images failed."""


class ModelError(AdvEngineError):
    """A model or its manifest cannot be used."""


class ModelNotFoundError(ModelError, LookupError):
    """No model is registered under the requested name."""


class CheckpointError(ModelError):
    """A weight file cannot be read."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint asked to run code during unpickling and was refused."""


class GraphError(AdvEngineError, ValueError):
    """An ONNX graph cannot be compiled."""


class UnsupportedOpError(GraphError):
    """The gradient compiler has no rule for an operator in the graph."""


class SubmissionError(AdvEngineError, ValueError):
    """A NIPS17-style submission (archive, metadata.json, entry point) cannot be loaded or run."""


class SandboxError(AdvEngineError):
    """No sandbox can be built to run a submission (and --unsafe-no-sandbox was not given)."""


class ExecutorError(AdvEngineError, RuntimeError):
    """What runs the pieces failed under the run (a Ray raylet or node died); finished pieces are kept."""


class NotYetAvailableError(AdvEngineError):
    """A command exists in the interface but its engine has not landed yet."""


class InstallError(AdvEngineError, ImportError):
    """The installation is broken in a way the user fixes with pip (no ONNX Runtime, or two)."""


class ServerError(AdvEngineError):
    """``advengine serve`` refused a request, or ``advengine submit`` cannot reach the server."""


class InternalError(AdvEngineError, RuntimeError):
    """A bug in advengine (for example a panic inside a Rust kernel). Please report it."""


__all__ = [
    "AdvEngineError",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DownloadError",
    "ExecutorError",
    "GraphError",
    "ImageDecodeError",
    "ImageError",
    "ImageFileError",
    "InstallError",
    "InternalError",
    "ModelError",
    "ModelNotFoundError",
    "NotYetAvailableError",
    "ParameterError",
    "SandboxError",
    "ServerError",
    "ShapeError",
    "SubmissionError",
    "UnsafeCheckpointError",
    "UnsupportedOpError",
]
