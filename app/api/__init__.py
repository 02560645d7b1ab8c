"""shiplog's HTTP API: a FastAPI application over the ledger (see app/api/main.py)."""
