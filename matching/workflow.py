"""The matching app's workflow: a match run's table of moves (marketplace.workflow).

running → complete (its last chunk written: it becomes the visible run) | failed
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from marketplace.workflow import Workflow
from matching.models import MatchRun

R = MatchRun.Status
MATCH_RUN = Workflow(
    model=MatchRun,
    statuses=MatchRun.Status,
    moves={(R.RUNNING, R.COMPLETE): "completed", (R.RUNNING, R.FAILED): "failed"},
    not_allowed=(
        "match_run_transition_not_allowed",
        _("A match run that is %(current)s cannot become %(new)s."),
    ),
    changed=("match_run_changed", _("The match run changed meanwhile.")),
    stamp=None,
)
