"""The competition's rules checked by the engine (docs/rules.md): stateless entries, no collusion,
no hidden channels (:func:`check_run` on a finished run), and no fake test-round results
(:func:`check_uploaded_labels`, :func:`check_clean_copies`, for the server's upload mode)."""

from advengine.competition.rules.check import CheckSettings, check_run, save_rules
from advengine.competition.rules.test_round import check_clean_copies, check_uploaded_labels, read_label_csv

__all__ = [
    "CheckSettings",
    "check_clean_copies",
    "check_run",
    "check_uploaded_labels",
    "read_label_csv",
    "save_rules",
]
