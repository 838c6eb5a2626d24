"""The compiler's version, apart from the compiler: the graph cache keys on it, and a run whose graphs
are already compiled reads it without importing the compiler (and onnx, about 1 s)."""

#: Bumped whenever compiled graphs change, so cached files of older compilers are not reused.
COMPILER_VERSION = "6"

__all__ = ["COMPILER_VERSION"]
