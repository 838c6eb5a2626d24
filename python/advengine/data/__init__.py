"""NIPS 2017 datasets: loading and checking, the embedded sample, labels and pixel conversions.

```python
from advengine.data import load_dataset, sample_dataset_dir
ds = load_dataset(sample_dataset_dir())
x = ds.read_images(0, 16)          # uint8 [16, 299, 299, 3]
ds.true_labels[:16]                # TF-Slim labels 1..1000
```
"""

from advengine.data.dataset import Dataset, load_dataset
from advengine.data.images import IMAGE_SIDE, from_model_output, to_model_input
from advengine.data.labels import class_index, labels_from_logits, tf_slim_label
from advengine.data.sample import sample_dataset_dir
from advengine.data.verify import VerifyReport, verify_dataset

__all__ = [
    "IMAGE_SIDE",
    "Dataset",
    "VerifyReport",
    "class_index",
    "from_model_output",
    "labels_from_logits",
    "load_dataset",
    "sample_dataset_dir",
    "tf_slim_label",
    "to_model_input",
    "verify_dataset",
]
