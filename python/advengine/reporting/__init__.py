"""The HTML report of a competition run: ``report.html``, one self-contained page (leaderboards, the
paper's score-against-rank figure, attack × defense heatmaps, curves against ε, a gallery, per-piece
timings, failures and run metadata) drawn from a run directory, finished or partial.

```python
from pathlib import Path
from advengine.reporting import write_report
report = write_report(Path("runs/a"))          # runs/a/report.html
report.bytes, report.figures
```

Layering: this package reads what :mod:`advengine.competition` wrote and uses :mod:`advengine.data`
and :mod:`advengine.kernels`; nothing below it imports it. See docs/report.md.
"""

from advengine.reporting.page import REPORT_FILE, Report, write_report, write_report_or_warn
from advengine.reporting.rundir import RunView, load_run

__all__ = ["REPORT_FILE", "Report", "RunView", "load_run", "write_report", "write_report_or_warn"]
