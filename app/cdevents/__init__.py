"""CDEvents 0.5.1 over CloudEvents: validation, import mapping and export mapping.

`schemas` validates against the official JSON schemas vendored in `schema_files/`
(Apache-2.0, see its LICENSE); `imports` turns a CloudEvent into what shiplog
records; `exports` turns ledger events into CloudEvents. None of them touches the
database or FastAPI: app/services/cdevents.py (in) and app/queries/cdevents.py (out)
do. docs/cdevents.md has the mapping tables.
"""
