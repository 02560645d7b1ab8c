"""What every API model shares: field types with their limits, and reading from records."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
# PostgreSQL's jsonb cannot hold U+0000, so text with it is refused here, not a 500.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
# A time with its offset, stored in UTC as the vocabulary says; a naive time is refused.
UtcTime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")]


class FromRecord(BaseModel):
    """A response model filled from a record's attributes."""

    model_config = ConfigDict(from_attributes=True)
