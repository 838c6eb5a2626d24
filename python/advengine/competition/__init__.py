"""The competition engine behind ``advengine eval`` (NIPS 2017 Algorithm 1, scoring, reports).

```python
from pathlib import Path
from advengine.competition import load_config, run_competition
cfg = load_config()                        # the embedded default: 100-image sample, batches of 100
results = run_competition(cfg.overridden(limit=50), Path("runs/demo"))
results.defenses[0].score                 # typed: advengine.competition.artefacts.Results
```
"""

from advengine.competition.artefacts import PieceId, Results
from advengine.competition.config import CompetitionConfig, Entry, load_config, parse_config
from advengine.competition.engine import Competition, eps_schedule, run_competition
from advengine.competition.executor import Executor, InProcessExecutor, Job, Outcome, ProcessExecutor
from advengine.competition.scoring import Aggregate, aggregate

__all__ = [
    "Aggregate",
    "Competition",
    "CompetitionConfig",
    "Entry",
    "Executor",
    "InProcessExecutor",
    "Job",
    "Outcome",
    "PieceId",
    "ProcessExecutor",
    "Results",
    "aggregate",
    "eps_schedule",
    "load_config",
    "parse_config",
    "run_competition",
]
