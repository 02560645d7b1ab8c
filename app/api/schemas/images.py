"""Response bodies of the image routes, filled from app/queries/images.py's records."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app.api.schemas.base import FromRecord


class BaseImageOut(FromRecord):
    """A base image of a build: the name as written and the digest it resolved to."""

    name: str
    digest: str


class ImagePushOut(FromRecord):
    """Where an image was pushed: repository, tag, manifest digest and when."""

    repository: str
    tag: str
    digest: str
    pushed_at: datetime
    run_id: str


class ImageTestsOut(FromRecord):
    """A step's test reports in the run that built the image."""

    step: str
    passed: int
    failed: int
    skipped: int
    failing: list[str]


class ImageSummaryOut(FromRecord):
    """One build of an image: enough to list it and link to it."""

    image_id: str
    run_id: str
    step: str
    repository: str
    commit: str
    built_at: datetime
    tags: list[str]
    cursor: str = Field(description="Where its build is in the ledger: `after` of the next page.")


class ImageOut(FromRecord):
    """Everything recorded about how an image was made and where it went."""

    image_id: str
    run_id: str
    step: str
    repository: str
    commit: str
    ref: str
    pipeline_path: str
    trigger: str
    commit_time: datetime | None
    actor: str | None
    built_at: datetime
    tags: list[str]
    context_digest: str
    target: str | None
    build_args: dict[str, str]
    secret_args: list[str]
    base_images: list[BaseImageOut]
    labels: dict[str, str]
    pushes: list[ImagePushOut]
    tests: list[ImageTestsOut]
    other_runs: list[str]
