"""Bodies and answers of `/api/repositories`: registered repositories, never their secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas.base import FromRecord, Name, Text
from app.api.schemas.writes import reported


class RepositoryIn(BaseModel):
    """A repository an admin registers so that its forge's webhooks may start runs."""

    model_config = reported(url="https://github.com/acme/web.git", forge="github")

    url: Text = Field(description="The clone URL (https or ssh), without credentials.")
    forge: Literal["github", "gitea", "gitlab"] = Field(description="Which forge hosts it.")
    credential: Text | None = Field(
        default=None,
        description="The clone credential, `user:token` or a token; stored as a secret, "
        "never shown again.",
    )
    commit_status: bool = Field(
        default=False, description="Report run outcomes back to the forge as commit statuses."
    )
    api_url: Text | None = Field(
        default=None,
        description="The forge's API, for commit statuses (default: derived from the URL).",
    )
    rotate_secret: bool = Field(
        default=False, description="Make a new webhook secret for an already registered one."
    )


class RepositoryOut(FromRecord):
    """A registered repository: whether it has a credential, never the credential."""

    identity: Name = Field(description="The canonical identity, `host/owner/name`.")
    forge: str
    clone_url: str
    api_url: str | None
    commit_status: bool
    credential: bool = Field(description="Whether a clone credential is stored.")
    registered_at: datetime
    registered_by: str


class RepositoryRegisteredOut(BaseModel):
    """A registration's answer; the webhook secret is in it only when it was just made."""

    identity: str = Field(description="The canonical identity, `host/owner/name`.")
    forge: str
    clone_url: str
    credential: bool
    webhook_path: str = Field(description="Where the forge sends its webhooks, e.g. /hooks/github.")
    webhook_secret: str | None = Field(
        description="The webhook secret, shown this once (null: the existing one is kept)."
    )


class DeliveryOut(FromRecord):
    """An accepted webhook delivery and what became of it."""

    id: int
    repository: str
    forge: str
    delivery: str
    event: str
    ref: str
    sha: str
    received_at: datetime
    state: str
    attempts: int
    outcome: str | None
    runs: tuple[str, ...]
