"""An environment's folded state as JSON, its long history built back only when it is used.

The snapshot of an environment (app/delivery/snapshots.py) holds everything its fold
holds: every deployment shiplog was asked for and every stretch a digest ran, in every
service. Building thousands of those objects back took longer than folding is allowed
to take, and most reads need none of them: the environment page asks each service what
runs and who delivered it, the worker asks what is open. So a service's history is
kept as JSON text inside the snapshot, and a service read from a snapshot
(`ArchivedService`) holds it unparsed, together with the few answers taken from it
when it was saved: the last stint, the open deployment, the deployment that delivered
what runs, the most recent deployments and the digests a rollback may return to. It
answers those from them, and builds the whole history the first time anything else
is asked of it (a fold that touches the service, `earlier_digests`, a deployment by
id that is not among the few). Until then nothing in the service can have changed
except its pin and colours, which are plain fields, so the kept answers are exactly
what the history would give; `tests/delivery/test_env_snapshots.py` compares every
field against the whole stream folded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from app.delivery.ledger import (
    Approval,
    ColourRun,
    EnvironmentState,
    Pin,
    Request,
    ServiceState,
    Stint,
    Waiver,
)
from events.vocabulary import DriftDetected, EvidenceItem

RECENT = 10  # the most recent deployments a snapshot answers without its history


class ArchivedService(ServiceState):
    """A service read from a snapshot: `requests` and `stints` are built when first used."""

    def __init__(self, document: dict[str, Any]) -> None:
        # `requests` and `stints` are left unset on purpose: __getattr__ builds them.
        self.name = document["name"]
        pin = document["pin"]
        self.pin = None if pin is None else Pin(pin[0], pin[1], pin[2], _d(pin[3]))
        self.live = _run(document["live"])
        self.standby = _run(document["standby"])
        self._history: tuple[str, str] | None = (document["requests"], document["stints"])
        self._ids: frozenset[str] | None = None
        self._id_text: str = document["ids"]
        last = document["last"]
        self._last = None if last is None else _stint(last)
        self._kept = {r.deployment_id: r for r in map(_decode_request, document["kept"])}
        self._open: str | None = document["open"]
        self._delivered: list[Any] | None = document["delivered"]  # [digest, id or None]
        self._recent: list[str] = document["recent"]
        self._targets: list[str] = document["targets"]

    def __getattr__(self, attribute: str) -> Any:
        """Build the history on first use of `requests` or `stints`."""
        if attribute not in ("requests", "stints") or self.__dict__.get("_history") is None:
            raise AttributeError(attribute)
        self._build()
        return self.__dict__[attribute]

    @property
    def built(self) -> bool:
        """True once the history has been built (it may have changed since)."""
        return self._history is None

    def history_json(self) -> tuple[str, str]:
        """The history's JSON text, as it was read (only while it is not built)."""
        assert self._history is not None
        return self._history

    def _build(self) -> None:
        """Decode the history, keeping the objects already handed out as the same objects."""
        assert self._history is not None
        requests_text, stints_text = self._history
        requests: dict[str, Request] = {}
        for fields in orjson.loads(requests_text):
            request = self._kept.get(fields["deployment_id"]) or _decode_request(fields)
            requests[request.deployment_id] = request
        stints = [_stint(s) for s in orjson.loads(stints_text)]
        if stints and self._last is not None:
            stints[-1] = self._last  # handed out as `running`, and maybe changed since
        self.__dict__["requests"], self.__dict__["stints"] = requests, stints
        self._history = None

    @property
    def running(self) -> Stint | None:
        """What runs now (from the last stint, while the history is not built)."""
        if self.built:
            return super().running
        return self._last if self._last is not None and self._last.until is None else None

    def open_request(self) -> Request | None:
        """The deployment that waits or runs, if one does."""
        if self.built:
            return super().open_request()
        return None if self._open is None else self._kept[self._open]

    def request_of(self, digest: str) -> Request | None:
        """The newest successful deployment of `digest` here, if any."""
        if not self.built and self._delivered is not None and self._delivered[0] == digest:
            found = self._delivered[1]
            return None if found is None else self._kept[found]
        return super().request_of(digest)

    def find_request(self, deployment_id: str) -> Request | None:
        """The deployment with this id, if it was asked for in this service."""
        if self.built:
            return super().find_request(deployment_id)
        if deployment_id in self._kept:
            return self._kept[deployment_id]
        if self._ids is None:
            self._ids = frozenset(orjson.loads(self._id_text))
        return super().find_request(deployment_id) if deployment_id in self._ids else None

    def recent_requests(self, count: int) -> list[Request]:
        """The last `count` deployments asked for, newest first."""
        if self.built or count > RECENT:
            return super().recent_requests(count)
        return [self._kept[i] for i in self._recent[:count]]

    def rollback_targets(self) -> list[str]:
        """The earlier digests shiplog itself delivered here, most recent first."""
        return super().rollback_targets() if self.built else list(self._targets)


def encode_state(state: EnvironmentState) -> bytes:
    """The state as JSON (its version is stored beside it)."""
    return orjson.dumps(
        {
            "services": [_encode_service(s) for s in state.services.values()],
            "waivers": [
                [
                    w.image_digest,
                    w.policy,
                    w.reason,
                    w.granted_by,
                    _t(w.granted_at),
                    _t(w.expires_at),
                ]
                for w in state.waivers
            ],
            # as the JSON text the ledger holds: the event classes read tuples from JSON only
            "drift": {name: d.model_dump_json() for name, d in state.drift.items()},
        }
    )


def decode_state(name: str, version: int, document: Any) -> EnvironmentState:
    """The state `encode_state` wrote, standing at stream version `version`."""
    if isinstance(document, str | bytes):
        document = orjson.loads(document)
    state = EnvironmentState(name, version)
    for service in document["services"]:
        state.services[service["name"]] = ArchivedService(service)
    state.waivers = [
        Waiver(digest, policy, reason, by, _d(at), _d(until))
        for digest, policy, reason, by, at, until in document["waivers"]
    ]
    state.drift = {n: DriftDetected.model_validate_json(d) for n, d in document["drift"].items()}
    return state


def _encode_service(service: ServiceState) -> dict[str, Any]:
    """One service: its plain fields, the answers kept, and its history as JSON text."""
    if isinstance(service, ArchivedService) and not service.built:
        requests_text, stints_text = service.history_json()  # unchanged since it was read
        ids_text = service._id_text
    else:
        requests_text = orjson.dumps(
            [_encode_request(r) for r in service.requests.values()]
        ).decode()
        stints_text = orjson.dumps([_encode_stint(s) for s in service.stints]).decode()
        ids_text = orjson.dumps(list(service.requests)).decode()
    running = service.running
    delivered_by = service.request_of(running.image_digest) if running else None
    opened = service.open_request()
    recent = service.recent_requests(RECENT)
    kept = {r.deployment_id: r for r in (opened, delivered_by, *recent) if r is not None}
    last = running if running is not None else _last_stint(service)
    pin = service.pin
    return {
        "name": service.name,
        "pin": None
        if pin is None
        else [pin.image_digest, pin.reason, pin.pinned_by, _t(pin.pinned_at)],
        "live": _colour(service.live),
        "standby": _colour(service.standby),
        "last": None if last is None else _encode_stint(last),
        "kept": [_encode_request(r) for r in kept.values()],
        "open": None if opened is None else opened.deployment_id,
        "delivered": None
        if running is None
        else [running.image_digest, None if delivered_by is None else delivered_by.deployment_id],
        "recent": [r.deployment_id for r in recent],
        "targets": service.rollback_targets(),
        "ids": ids_text,
        "requests": requests_text,
        "stints": stints_text,
    }


def _last_stint(service: ServiceState) -> Stint | None:
    """The last stint, ended (an unbuilt service keeps it without building its history)."""
    if isinstance(service, ArchivedService) and not service.built:
        return service._last
    return service.stints[-1] if service.stints else None


_REQUEST_TIMES = ("requested_at", "expires_at", "started_at", "finished_at")


def _encode_request(request: Request) -> dict[str, Any]:
    fields = dict(request.__dict__)
    for key in _REQUEST_TIMES:
        fields[key] = _t(fields[key])
    fields["evidence"] = [item.model_dump(mode="json") for item in request.evidence]
    fields["approvals"] = [_approval(a) for a in request.approvals]
    fields["rejections"] = [_approval(a) for a in request.rejections]
    return fields


def _decode_request(fields: dict[str, Any]) -> Request:
    fields = dict(fields)
    for key in _REQUEST_TIMES:
        fields[key] = _d(fields[key]) if fields[key] else None
    fields["evidence"] = tuple(EvidenceItem.model_validate(e) for e in fields["evidence"])
    fields["waived"] = tuple(fields["waived"])
    fields["approvals"] = [_decision(a) for a in fields["approvals"]]
    fields["rejections"] = [_decision(a) for a in fields["rejections"]]
    return Request(**fields)


def _encode_stint(s: Stint) -> list[Any]:
    return [s.deployment_id, s.image_digest, _t(s.since), _t(s.until), s.ended_by]


def _stint(fields: list[Any]) -> Stint:
    deployment_id, digest, since, until, ended_by = fields
    return Stint(deployment_id, digest, _d(since), _d(until) if until else None, ended_by)


def _approval(a: Approval) -> list[Any]:
    return [a.actor, _t(a.at), a.image_digest, a.evidence_sha256, a.comment]


def _decision(fields: list[Any]) -> Approval:
    actor, at, digest, evidence, comment = fields
    return Approval(actor, _d(at), digest, evidence, comment)


def _colour(run: ColourRun | None) -> list[Any] | None:
    return None if run is None else [run.colour, run.image_digest, _t(run.since)]


def _run(fields: list[Any] | None) -> ColourRun | None:
    return None if fields is None else ColourRun(fields[0], fields[1], _d(fields[2]))


def _t(moment: datetime | None) -> str | None:
    """A datetime as ISO 8601 with its offset (None stays None)."""
    return None if moment is None else moment.isoformat()


def _d(text: str) -> datetime:
    return datetime.fromisoformat(text)
