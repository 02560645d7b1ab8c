"""docs/events.md is generated from the catalogue; this fails when the two drift apart."""

from __future__ import annotations

from app.config import PROJECT_ROOT
from events.docs import catalogue_markdown
from events.vocabulary import CATALOGUE


def test_events_doc_matches_the_catalogue() -> None:
    on_disk = (PROJECT_ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert on_disk == catalogue_markdown(CATALOGUE), (
        "docs/events.md is stale: run `make docs` (shiplog events catalogue --markdown)"
    )


def test_every_event_type_documents_itself() -> None:
    for cls in CATALOGUE:
        assert cls.doc(), cls.type_name
        assert cls.categories, cls.type_name
        assert all(field.annotation is not None for field in cls.model_fields.values())
