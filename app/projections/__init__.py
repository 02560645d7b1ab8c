"""shiplog's projections: read tables folded from the ledger by events/projections.py.

Every projection the application keeps up to date is listed in PROJECTIONS; the
CLI's `shiplog projections status|rebuild` and the server's follower use them
through `projector()`.
"""

from __future__ import annotations

from app.projections.deployments import DeploymentsProjection
from app.projections.dora import DoraProjection
from app.projections.images import ImagesProjection
from app.projections.reproductions import ReproductionsProjection
from app.projections.runs import RunsProjection
from app.projections.stages import StagesProjection
from events.projections import Projection, Projector
from events.store import EventStore

PROJECTIONS: tuple[Projection, ...] = (
    RunsProjection(),
    ImagesProjection(),
    DeploymentsProjection(),
    ReproductionsProjection(),
    StagesProjection(),
    DoraProjection(),
)


def projector(store: EventStore) -> Projector:
    """A Projector for every projection in PROJECTIONS, reading `store`."""
    return Projector(store, PROJECTIONS)
