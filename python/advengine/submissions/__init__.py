"""Original NIPS 2017 submissions (dir / .zip / .tar / .tar.gz with metadata.json), run unchanged in
a sandbox as competition roster entries. See docs/submissions.md.

```python
from pathlib import Path
from advengine.submissions import load_submission, run_attack, Settings
sub = load_submission(Path("my_attack.zip"), Path("/tmp/work"))
images, run = run_attack(sub, clean_u8_batch, eps=16, target_classes=None, settings=Settings(time_limit=60))
```
"""

from advengine.submissions.archive import Caps, Submission, load_submission, submission_name
from advengine.submissions.metadata import Metadata, parse_metadata
from advengine.submissions.runner import RunResult, Settings, parse_defense_csv, run_attack, run_defense
from advengine.submissions.sandbox import Limits, resolve_sandbox

__all__ = [
    "Caps",
    "Limits",
    "Metadata",
    "RunResult",
    "Settings",
    "Submission",
    "load_submission",
    "parse_defense_csv",
    "parse_metadata",
    "resolve_sandbox",
    "run_attack",
    "run_defense",
    "submission_name",
]
