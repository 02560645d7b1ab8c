"""What a notification says, and the bodies each kind of target gets.

A `Notice` is one thing worth telling (a run failed, a deployment succeeded, an image
that runs in production has a new critical finding); a message carries one or more
(repeats grouped). The body is made from the message's notices at each attempt, the
same bytes every time:

- Slack-compatible incoming webhooks: `text` (the fallback notifications and old
  clients show) and `blocks` (a section per notice), with `&`, `<` and `>` escaped as
  Slack asks, so a branch called `<!channel>` cannot ping anyone.
- Generic webhooks: JSON as Standard Webhooks recommends, `{"type", "timestamp",
  "data"}`, signed by app/standard_webhooks.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

MAX_BLOCKS = 10
"""Notices shown as their own Slack section; the rest are counted."""


@dataclass(frozen=True)
class Notice:
    """One thing worth telling, as a line and some detail."""

    event: str  # the event type that caused it, e.g. RunFailed
    subject: str  # what it is about, e.g. "run 4f… of github.com/acme/web@main"
    state: str  # e.g. failed, succeeded, waiting
    title: str
    text: str = ""
    link: str | None = None
    position: int | None = None  # the event's ledger position

    def to_json(self) -> dict[str, Any]:
        """The notice as stored in the outbox."""
        return asdict(self)


def slack_escape(text: str) -> str:
    """`text` with `&`, `<` and `>` escaped as Slack's message formatting requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(notices: Sequence[Notice]) -> bytes:
    """A Slack incoming-webhook body: a `text` fallback and one section block per notice."""
    first = notices[0]
    fallback = first.title + (f" (and {len(notices) - 1} more)" if len(notices) > 1 else "")
    blocks: list[dict[str, Any]] = []
    for notice in notices[:MAX_BLOCKS]:
        lines = [f"*{slack_escape(notice.title)}*"]
        if notice.text:
            lines.append(slack_escape(notice.text))
        if notice.link:
            lines.append(f"<{slack_escape(notice.link)}|Open in shiplog>")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if len(notices) > MAX_BLOCKS:
        more = f"and {len(notices) - MAX_BLOCKS} more like these"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    body = {"text": slack_escape(fallback), "blocks": blocks}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_body(
    message_id: str, created_at: datetime, rule: str | None, notices: Sequence[Notice]
) -> bytes:
    """A generic webhook body, `{"type", "timestamp", "data"}` as Standard Webhooks suggests."""
    body = {
        "type": "shiplog.notification",
        "timestamp": created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "message_id": message_id,
            "rule": rule,
            "notices": [notice.to_json() for notice in notices],
        },
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def body_digest(body: bytes) -> str:
    """Hex sha256 of a body, as NotificationSent and NotificationFailed record it."""
    return hashlib.sha256(body).hexdigest()
