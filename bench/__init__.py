"""Benchmarks with their own runner (not timed tests): `python -m bench.ledger`."""
