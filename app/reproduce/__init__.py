"""Reproducing historical builds: rebuild an image from its run's recorded inputs and compare.

See docs/reproduce.md. `Reproducer.reproduce` rebuilds one image and records the
verdict in the stream `repro-<uuid>` (ReproductionRequested, then
ReproductionCompleted); app/services/reproductions.py finds what to rebuild.
"""
