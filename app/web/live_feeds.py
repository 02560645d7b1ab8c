"""The live feeds of one server process: one shared LISTEN connection, caps and idle time-outs.

Every open feed (a browser's EventSource on /live/...) needs to wake up when the
ledger or a step log grows. Instead of a database connection each, the process
keeps one connection that LISTENs on both channels and wakes the feeds of the
channel notified; it connects when the first feed opens and reconnects (waking
every feed, which re-selects anyway) after losing the server.

How many feeds may be open is capped, in all and per client address, so that
viewers cannot exhaust the server: a feed over either cap is refused with
FeedsFull (a 503 with Retry-After). A feed that has sent nothing for
`idle_seconds` ends; a browser's EventSource reconnects by itself, resuming after
the last message it got, so an abandoned tab gives its place back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

import psycopg

from app.config import Settings
from app.steplogs import NOTIFY_CHANNEL as LOG_CHANNEL
from events.notify import CHANNEL as LEDGER_CHANNEL

log = logging.getLogger(__name__)

APPLICATION_NAME = "shiplog-live"
"""The shared listener's application_name in pg_stat_activity."""
RETRY_AFTER_SECONDS = 10
"""What a refused feed is told to wait before trying again."""


class FeedsFull(Exception):
    """No room for another live feed: the message says which cap is reached."""


@dataclass(frozen=True)
class FeedLimits:
    """How many live feeds may be open, and when an idle one ends."""

    total: int = 200
    per_client: int = 16
    idle_seconds: float = 300.0
    poll_seconds: float = 1.0


class Feed:
    """One open live feed: its place under the caps, and its wake-ups."""

    def __init__(self, feeds: LiveFeeds, client: str, channel: str) -> None:
        self._feeds = feeds
        self.client = client
        self.channel = channel
        self._woken = asyncio.Event()
        self._last_sent = time.monotonic()
        self._closed = False

    def wake(self) -> None:
        """A notification for this feed's channel arrived (called by the listener)."""
        self._woken.set()

    async def wait(self) -> None:
        """Until a notification on the channel, or the poll interval, whichever is first.

        A notification that arrived while the feed was busy re-selecting is kept, so
        the next wait returns at once and nothing waits a whole interval for it.
        """
        self._feeds.start_listening()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._feeds.limits.poll_seconds):
                await self._woken.wait()
        self._woken.clear()

    def sent(self) -> None:
        """The feed sent a message: it is not idle."""
        self._last_sent = time.monotonic()

    @property
    def idle(self) -> bool:
        """True once the feed has sent nothing for the idle time-out."""
        return time.monotonic() - self._last_sent >= self._feeds.limits.idle_seconds

    def close(self) -> None:
        """Give the feed's place back (idempotent)."""
        if not self._closed:
            self._closed = True
            self._feeds.release(self)


class LiveFeeds:
    """The process's live feeds: admission under the caps, and the one shared listener."""

    def __init__(self, conninfo: str, channels: tuple[str, ...], limits: FeedLimits) -> None:
        self.conninfo = conninfo
        self.channels = channels
        self.limits = limits
        self._feeds: set[Feed] = set()
        self._per_client: Counter[str] = Counter()
        self._lock = threading.Lock()  # handlers may admit from a worker thread
        self._listener: asyncio.Task[None] | None = None

    def open(self, client: str, channel: str) -> Feed:
        """A new feed for `client` on `channel`; FeedsFull when a cap is reached."""
        with self._lock:
            if len(self._feeds) >= self.limits.total:
                raise FeedsFull(
                    f"the server has {self.limits.total} live feeds open, its limit; "
                    f"try again in {RETRY_AFTER_SECONDS} s"
                )
            if self._per_client[client] >= self.limits.per_client:
                raise FeedsFull(
                    f"{client} has {self.limits.per_client} live feeds open, the limit per "
                    "client; close some pages or try again later"
                )
            feed = Feed(self, client, channel)
            self._feeds.add(feed)
            self._per_client[client] += 1
            return feed

    def release(self, feed: Feed) -> None:
        """Forget `feed` (Feed.close calls this)."""
        with self._lock:
            if feed in self._feeds:
                self._feeds.discard(feed)
                self._per_client[feed.client] -= 1
                if self._per_client[feed.client] <= 0:
                    del self._per_client[feed.client]

    @property
    def open_count(self) -> int:
        """How many feeds are open now."""
        return len(self._feeds)

    def start_listening(self) -> None:
        """Start the shared listener in the running event loop, unless it runs already."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name="shiplog-live-listener"
            )

    async def close(self) -> None:
        """Stop the listener and close its connection."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    def _wake(self, channel: str | None) -> None:
        """Wake every feed on `channel` (None: every feed)."""
        with self._lock:
            feeds = list(self._feeds)
        for feed in feeds:
            if channel is None or feed.channel == channel:
                feed.wake()

    async def _listen(self) -> None:
        """LISTEN on every channel over one connection, reconnecting after a failure."""
        delay = self.limits.poll_seconds
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name=APPLICATION_NAME
                ) as conn:
                    for channel in self.channels:
                        await conn.execute(f"LISTEN {channel}")
                    delay = self.limits.poll_seconds
                    self._wake(None)  # whatever happened while connecting
                    async for note in conn.notifies():
                        self._wake(note.channel)
            except psycopg.Error as error:
                # The feeds still poll, so a lost listener only slows them down.
                log.warning("live feeds' listener lost the database (%s); retrying", error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def open_live_feeds(conninfo: str, settings: Settings) -> LiveFeeds:
    """The live feeds of a server process on the database at `conninfo`, capped by `settings`."""
    limits = FeedLimits(
        total=settings.live_feeds,
        per_client=settings.live_feeds_per_client,
        idle_seconds=settings.live_idle_seconds,
    )
    return LiveFeeds(conninfo, (LEDGER_CHANNEL, LOG_CHANNEL), limits)
