"""The stages projection: each run's time per stage (build, push, test), totalled once.

Folded from the run-* streams (migrations/0070_stages_projection.sql). The velocity
report's stage timing ranks runs by their time in each stage; adding up a year of
steps per report took most of its time, so this projection keeps the totals.

A step's stage depends on three events (StepStarted names its image, StepFinished
its duration, TestsReported whether it ran tests) that may arrive in any
subscription order. Each is kept as one history row (inserted by COPY, so batches
commute), and after a batch `settle` recomputes the totals of the runs that batch
touched from all their rows: the totals are a function of the rows alone, so live
folding in small batches and a rebuild in large ones give the same table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from events.projections import Insert, Write, table_name
from events.store import RecordedEvent
from events.vocabulary import StepFinished, StepStarted, TestsReported

VERSION = 1
RELATIONS = ("stage_facts", "run_stages")
# A step's stage from its image; every other step is a test candidate.
STAGE_OF_IMAGE = {"docker build": "build", "docker push": "push"}
_FACT_COLUMNS = ("position", "tx_id", "run_id", "step", "kind", "image", "duration_ms")


class StagesProjection:
    """Per-run totals of step durations by stage, from step and test-report events."""

    name = "stages"
    relations = RELATIONS
    writes_commute = True  # facts are insert-only; totals are recomputed in `settle`

    def __init__(self, version: int = VERSION) -> None:
        self.version = version
        facts, totals = (table_name(r, version) for r in RELATIONS)
        self._fact = Insert(facts, _FACT_COLUMNS)
        self._settle = _settle_sql(facts, totals)

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """The fact one step or test-report event adds; other events write nothing."""
        if not event.stream.startswith("run-"):
            return
        data, head = event.data, (event.position, event.tx_id, event.stream[4:])
        if isinstance(data, StepStarted):
            yield self._fact, (*head, data.step, "started", data.image, None)
        elif isinstance(data, StepFinished):
            yield self._fact, (*head, data.step, "finished", None, data.duration_ms)
        elif isinstance(data, TestsReported):
            yield self._fact, (*head, data.step, "tested", None, None)

    def settle(self, events: Sequence[RecordedEvent]) -> Iterator[Write]:
        """After a batch: recompute the totals of every run it brought a fact of."""
        runs = sorted(
            {
                event.stream[4:]
                for event in events
                if event.stream.startswith("run-")
                and isinstance(event.data, StepStarted | StepFinished | TestsReported)
            }
        )
        if runs:
            yield self._settle, (runs,)


def _settle_sql(facts: str, totals: str) -> str:
    """The upsert of the totals of runs `%s` (an array) from their facts.

    A step's image is its last StepStarted's and its duration its last
    StepFinished's in the ledger's order (as the runs projection keeps them); a
    step counts when that duration is known. Build and push go by image; a
    tested build or push step stays build or push.
    """
    build, push = (
        " OR ".join(f"image = '{image}'" for image, stage in STAGE_OF_IMAGE.items() if stage == s)
        for s in ("build", "push")
    )
    other = f"NOT ({build}) AND NOT ({push}) OR image IS NULL"
    return f"""
        WITH picked AS (
            SELECT * FROM {facts} WHERE run_id = ANY(%s)
        ), started AS (
            SELECT DISTINCT ON (run_id, step) run_id, step, image FROM picked
            WHERE kind = 'started' ORDER BY run_id, step, tx_id DESC, position DESC
        ), finished AS (
            SELECT DISTINCT ON (run_id, step) run_id, step, duration_ms FROM picked
            WHERE kind = 'finished' ORDER BY run_id, step, tx_id DESC, position DESC
        ), tested AS (
            SELECT DISTINCT run_id, step FROM picked WHERE kind = 'tested'
        ), steps AS (
            SELECT f.run_id, s.image, f.duration_ms, t.step IS NOT NULL AS tested
            FROM finished f LEFT JOIN started s USING (run_id, step)
            LEFT JOIN tested t USING (run_id, step)
            WHERE f.duration_ms IS NOT NULL
        )
        INSERT INTO {totals} AS t (run_id, build_ms, build_steps, push_ms, push_steps,
                                   tested_ms, tested_steps, untested_ms, untested_steps,
                                   any_tested)
        SELECT run_id,
               coalesce(sum(duration_ms) FILTER (WHERE {build}), 0),
               count(*) FILTER (WHERE {build}),
               coalesce(sum(duration_ms) FILTER (WHERE {push}), 0),
               count(*) FILTER (WHERE {push}),
               coalesce(sum(duration_ms) FILTER (WHERE ({other}) AND tested), 0),
               count(*) FILTER (WHERE ({other}) AND tested),
               coalesce(sum(duration_ms) FILTER (WHERE ({other}) AND NOT tested), 0),
               count(*) FILTER (WHERE ({other}) AND NOT tested),
               bool_or(tested)
        FROM steps GROUP BY run_id
        ON CONFLICT (run_id) DO UPDATE SET
            build_ms = EXCLUDED.build_ms, build_steps = EXCLUDED.build_steps,
            push_ms = EXCLUDED.push_ms, push_steps = EXCLUDED.push_steps,
            tested_ms = EXCLUDED.tested_ms, tested_steps = EXCLUDED.tested_steps,
            untested_ms = EXCLUDED.untested_ms, untested_steps = EXCLUDED.untested_steps,
            any_tested = EXCLUDED.any_tested
    """
