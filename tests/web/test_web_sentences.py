"""Timeline rows in plain words: a sentence for every event type, no `None`, every stream linked."""

from __future__ import annotations

import re
import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from app.web.sentences import SENTENCES, sentence
from app.web.views.timeline import source_href, stream_href
from events.catalogue import Event
from events.vocabulary import CATALOGUE, ImagePushed, ScanCompleted, StepFinished
from tests.support.html_tree import parse

DIGEST = "sha256:b2e7" + "0" * 60
TYPES = sorted(cls.type_name for cls in CATALOGUE)


def sample_value(name: str, annotation: Any) -> Any:
    """A plausible value for a required field, by its name and type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return sample_value(name, args[0])
    if origin in (typing.Union, types.UnionType):
        return sample_value(name, next(a for a in args if a is not type(None)))
    if origin is Literal:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return build(annotation)
    if origin is tuple:
        return (sample_value(name, args[0]),) if args else ()
    if origin is dict:
        return {"deb": 3} if args[1] is int else {"VERSION": "1.0.0"}
    if annotation is datetime:
        return datetime(2026, 1, 1, 12, tzinfo=UTC)
    if annotation is bool:
        return False
    if annotation is int:
        return 1300
    if "digest" in name or name in ("image_id",):
        return DIGEST
    if name in ("run_id", "run"):
        return str(uuid.UUID(int=7))
    if name in ("commit", "sha"):
        return "c0ffee" + "1" * 34
    return f"{name}-value"


def build(cls: type[BaseModel]) -> BaseModel:
    """An instance of `cls` with every required field filled in, the optional ones left out."""
    values = {
        name: sample_value(name, field.annotation)
        for name, field in cls.model_fields.items()
        if field.is_required()
    }
    return cls(**values)


def sample(cls: type[BaseModel]) -> dict[str, Any]:
    """The stored payload of such an instance."""
    return build(cls).model_dump(mode="json")


def words(type_name: str, data: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
    """The sentence's text as a reader gets it: without the copy buttons and hover boxes."""
    html = str(sentence(type_name, data, metadata or {"actor": "alice"}))
    html = re.sub(r'<span class="ident-full"[^>]*>[^<]*</span>|<button.*?</button>', "", html)
    return parse(f"<p>{html}</p>").text


def test_every_event_type_of_the_catalogue_has_a_sentence_and_no_sentence_is_stale() -> None:
    missing = sorted(set(TYPES) - set(SENTENCES))
    assert not missing, f"event types without a sentence in app/web/sentences.py: {missing}"
    assert sorted(set(SENTENCES) - set(TYPES)) == []


@pytest.mark.parametrize("type_name", TYPES)
def test_each_sentence_renders_its_required_fields_and_leaves_absent_ones_out(
    type_name: str,
) -> None:
    cls = CATALOGUE.get(type_name)
    assert issubclass(cls, Event)
    text = words(type_name, sample(cls))
    assert text and "None" not in text and "{{" not in text, text
    assert "None" not in words(type_name, {})  # even an empty payload prints no None


def test_sentences_say_what_happened_as_a_person_would() -> None:
    finished = StepFinished(step="build", exit_code=0, duration_ms=1300, log_sha256="a" * 64,
                            log_lines=12).model_dump(mode="json")  # fmt: skip
    assert words("StepFinished", finished) == "step build finished in 1.3 s, exit 0, 12 log lines"
    failed = finished | {"exit_code": 2, "timed_out": True}
    assert words("StepFinished", failed).startswith(
        "step build failed in 1.3 s, exit 2, stopped at its timeout"
    )
    pushed = ImagePushed(step="push", repository="127.0.0.1:5055/hello", tag="1.0.0",
                         digest=DIGEST).model_dump(mode="json")  # fmt: skip
    assert words("ImagePushed", pushed) == f"pushed 127.0.0.1:5055/hello:1.0.0 as {DIGEST}"
    html = str(sentence("ImagePushed", pushed, {}))
    assert f'href="/images/{DIGEST}"' in html and "sha256:b2e7000" in html
    scan = ScanCompleted(image_digest=DIGEST, sbom_digest=DIGEST, advisory_set_digest=DIGEST,
                         advisories=4, findings=()).model_dump(mode="json")  # fmt: skip
    assert words("ScanCompleted", scan) == f"scan of {DIGEST}: 0 findings against 4 advisories"
    finding = {"advisory": "X-1", "package": "busybox", "installed_version": "1",
               "ecosystem": "Debian", "purl": "pkg:deb/debian/busybox@1"}  # fmt: skip
    graded = scan | {
        "fail_on": "high",
        "findings": [finding | {"severity": "low"}, finding, finding | {"severity": "high"}],
    }
    assert words("ScanCompleted", graded) == (
        f"scan of {DIGEST}: 3 findings (1 high, 1 low, 1 unrated) against 4 advisories, "
        "fails on high or graver"
    )
    stored_apart = scan | {
        "findings_digest": DIGEST, "findings_total": 3000, "skipped_total": 2,
        "severities": {"critical": 1000, "high": 0, "medium": 0, "low": 1999, "unknown": 1},
    }  # fmt: skip
    assert words("ScanCompleted", stored_apart) == (
        f"scan of {DIGEST}: 3000 findings (1000 critical, 1999 low, 1 unrated) against "
        "4 advisories; 2 unreadable advisory records skipped"
    )


def test_a_type_without_a_sentence_lists_its_fields_without_none() -> None:
    text = words("SomethingNewer", {"service": "web", "reason": None, "count": 3})
    assert text == "service web count 3"


@pytest.mark.parametrize(
    ("stream", "href"),
    [
        ("run-5d6f0b9e-2a44-4c4e-9a57-4b3c2d1e0f00", "/runs/5d6f0b9e-2a44-4c4e-9a57-4b3c2d1e0f00"),
        (f"image-{DIGEST}", f"/images/{DIGEST}"),
        ("env-production", "/environments/production"),
        ("repo-git.example/acme/web", "/?repository=git.example%2Facme%2Fweb"),
        ("repro-0b5a7c1e", "/?stream=repro-0b5a7c1e"),
        ("incident-inc-1", "/?stream=incident-inc-1"),
        ("extrun-4f1c", "/?stream=extrun-4f1c"),
        ("artifact-pkg", "/?stream=artifact-pkg"),
        ("cdevent-4f1c", "/?stream=cdevent-4f1c"),
    ],
)
def test_every_kind_of_stream_links_to_its_page_or_its_own_events(stream: str, href: str) -> None:
    assert stream_href(stream) == href


def test_an_imported_event_links_to_its_source_only_when_that_is_a_web_address() -> None:
    assert source_href({"uri": "https://ci.example/run/7", "source": "/tekton"}) == (
        "https://ci.example/run/7"
    )
    assert source_href({"source": "https://ci.example/"}) == "https://ci.example/"
    assert source_href({"source": "/tekton/pipelines"}) is None
    assert source_href({"uri": "javascript:alert(1)"}) is None
