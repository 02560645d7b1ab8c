"""The JSON error answers both adapters give, safe to encode whatever the caller sent.

A 422 echoes the offending input, and a caller can send text that has no UTF-8
encoding (a lone surrogate, `"\\ud800"` in JSON); FastAPI's own answer then fails
while being encoded and becomes a 500. These answers write such characters out
as `\\udXXX` text first (app/inputs.py `printable`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.inputs import printable


def error_json(
    status_code: int, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """`{"detail": detail}` with `status_code`, always encodable."""
    body = {"detail": printable(jsonable_encoder(detail))}
    return JSONResponse(body, status_code=status_code, headers=headers)


def validation_json(error: RequestValidationError) -> JSONResponse:
    """The 422 FastAPI gives for a malformed request (each problem with its location)."""
    return error_json(422, error.errors())
