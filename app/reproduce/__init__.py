"""Reproducing historical builds: rebuild an image from its run's recorded inputs and compare.

See docs/reproduce.md. `subjects` finds what to rebuild from a run id or an image
digest, `Reproducer.reproduce` rebuilds one image and records the verdict in the
stream `repro-<uuid>` (ReproductionRequested, then ReproductionCompleted).
"""

from app.reproduce.inputs import ReproductionError, Subject, subjects
from app.reproduce.service import Reproducer

__all__ = ["Reproducer", "ReproductionError", "Subject", "subjects"]
