"""The HTTP API's request and response bodies, as OpenAPI documents them: `…In` and `…Out`.

Response models are filled from the read side's records (`model_validate(record)`,
attributes read by name), so a query can grow a field without the API changing
until a model here says so.
"""
