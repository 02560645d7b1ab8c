"""What every API model shares: field types with their limits, and reading from records."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from app.inputs import CleanStr, utc_moment

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
# Text without NUL or lone surrogates (app/inputs.py): what PostgreSQL and JSON can hold.
Name = Annotated[CleanStr, Field(min_length=1, max_length=200)]
Text = Annotated[CleanStr, Field(min_length=1, max_length=2000)]
# A time with its offset, in range, stored in UTC as the vocabulary says; naive is refused.
UtcTime = Annotated[AwareDatetime, AfterValidator(utc_moment)]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")]


class FromRecord(BaseModel):
    """A response model filled from a record's attributes."""

    model_config = ConfigDict(from_attributes=True)
