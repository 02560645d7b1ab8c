"""Release velocity: DORA metrics and per-stage timing, computed from plain records.

Nothing here touches the database: app/queries/ loads the records, these modules
compute (records.py folds deployment rows, stats.py has the quantiles, dora.py the
performance levels, metrics.py the report, stages.py per-stage timing).
docs/velocity.md states every definition.
"""
