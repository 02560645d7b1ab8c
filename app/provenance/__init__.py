"""Provenance of built images: SLSA v1 statements, DSSE signing, and where envelopes live."""
