"""One HTTP POST of a notification: to the checked address, with a time-out, no redirects.

The connection goes to the address app/notify/addresses.py checked (TLS still checks
the certificate against the host name). What comes back is the status and the
`Retry-After` the receiver asked for; a failure to connect or a time-out is a
`SendResult` without a status. Messages never quote the URL, whose path may be a secret.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from app.notify.addresses import AddressRefused, Destination, resolve_destination

USER_AGENT = "shiplog-notify/1"


@dataclass(frozen=True)
class SendResult:
    """How one attempt went: the status (None: no answer), Retry-After seconds, what failed."""

    status: int | None
    retry_after: float | None = None
    error: str | None = None
    refused: bool = False  # the address may not be sent to: trying again will not help

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address = destination.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(
            destination.host,
            destination.port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
        self._address = destination.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> SendResult:
    """POST `body` to `url`; how it went (never raises for network trouble)."""
    try:
        destination = resolve_destination(url, allow_private=allow_private)
    except AddressRefused as refused:
        return SendResult(None, error=str(refused), refused=True)
    connection: http.client.HTTPConnection
    if destination.scheme == "https":
        connection = _PinnedHTTPSConnection(destination, timeout)
    else:
        connection = _PinnedHTTPConnection(destination, timeout)
    sent = {"User-Agent": USER_AGENT, "Content-Length": str(len(body)), **headers}
    try:
        connection.request("POST", destination.path, body=body, headers=sent)
        response = connection.getresponse()
        response.read(64 * 1024)
        return SendResult(response.status, retry_after(response.getheader("Retry-After")))
    except TimeoutError:
        return SendResult(None, error=f"timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException) as error:
        return SendResult(None, error=f"{type(error).__name__}: {error}".replace(url, "<url>"))
    finally:
        connection.close()
