"""Training learned defenses on ONNX Runtime: the HGD denoiser (DUNET with the LGD loss, Liao et al.
2018) on the gradient compiler's parameter gradients, Adam on the host (docs/hgd.md); iwiwi's attack
FCN on the same machinery (docs/fcn.md).

```python
from advengine.training import train_hgd, train_settings
settings = train_settings({"data": "path/to/nips17_dev", "batch_size": 8})
result = train_hgd(settings, Path("runs/hgd"), steps=2000)        # resumable: resume=True
```
"""

from advengine.training.fcn_settings import FcnSettings, fcn_settings
from advengine.training.fcn_trainer import train_attack_fcn
from advengine.training.loop import StepReport, TrainResult
from advengine.training.settings import TrainSettings, train_settings
from advengine.training.trainer import train_hgd

__all__ = [
    "FcnSettings",
    "StepReport",
    "TrainResult",
    "TrainSettings",
    "fcn_settings",
    "train_attack_fcn",
    "train_hgd",
    "train_settings",
]
