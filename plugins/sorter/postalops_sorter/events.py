"""Telemetry events a sorter posts, and how a batch of them is parsed and checked.

A batch is a JSON array (or ``{"events": [...]}``) or NDJSON, one event per line::

    {"seq": 17, "ts": "2020-10-05T07:01:02.345+08:00", "type": "item",
     "barcode": "1180123456789", "chute": 12, "result": "sorted"}
    {"seq": 18, "ts": "2020-10-05T07:03:00+08:00", "type": "state", "state": "jammed"}
    {"seq": 19, "ts": "2020-10-05T07:04:00+08:00", "type": "heartbeat"}

A malformed event rejects only itself: :func:`parse_batch` returns the good events and a list of
``{"index", "field", "reason"}`` for the bad ones. Only a payload that is not a batch at all
(unparseable, too many events) raises. Times must carry an offset; they are normalised to UTC
and truncated to the millisecond, so every duration downstream is an exact integer of
milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from postalops.errors import BadRequest

try:  # orjson parses telemetry batches several times faster; json is the fallback
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _loads = json.loads

MAX_BATCH = 10_000
MAX_BARCODE = 64
# Clocks on station machines drift; an event stamped further ahead than this is a clock fault.
MAX_FUTURE = timedelta(minutes=5)


class Kind(StrEnum):
    ITEM = "item"
    STATE = "state"
    HEARTBEAT = "heartbeat"


class Result(StrEnum):
    """Final outcome of one pass of an item over the disc."""

    SORTED = "sorted"
    REJECTED = "rejected"
    NO_READ = "no_read"
    # The item goes round again and produces another event later: not a final outcome.
    RECIRCULATED = "recirculated"


class State(StrEnum):
    RUNNING = "running"
    IDLE = "idle"
    JAMMED = "jammed"
    FAULT = "fault"
    EMERGENCY_STOP = "emergency_stop"
    PLANNED_STOP = "planned_stop"


# States that count as a failure when entered (MTBF / MTTR); the time spent in them is repair time.
FAILURE_STATES = frozenset({State.JAMMED, State.FAULT})

_RESULTS = {r.value: r for r in Result}
_STATES = {s.value: s for s in State}


@dataclass(frozen=True, slots=True)
class Event:
    """One validated event. ``at`` is UTC, millisecond precision."""

    seq: int
    at: datetime
    kind: Kind
    barcode: str | None = None
    chute: int | None = None
    result: Result | None = None
    state: State | None = None


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    events: list[Event]
    rejected: list[dict[str, Any]]
    # Events whose sequence number already appeared earlier in the same batch (kept: the first).
    duplicates: int = 0


def decode_payload(body: bytes | str, content_type: str = "application/json") -> list[Any]:
    """Turn a request body into a list of raw events (JSON array, ``{"events": [...]}`` or NDJSON).

    Raises BadRequest when the body is not a batch at all. A single NDJSON line that is not JSON
    does not spoil the batch: it becomes ``None`` and is rejected by :func:`parse_batch`.
    """
    text = body
    if "ndjson" in content_type or "x-ndjson" in content_type or "jsonl" in content_type:
        raw: list[Any] = []
        lines = text.splitlines() if isinstance(text, str) else text.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                raw.append(_loads(line))
            except ValueError:
                raw.append(None)
    else:
        try:
            data = _loads(text)
        except ValueError as exc:
            raise BadRequest(
                "body is not JSON",
                code="invalid_json",
                details=[{"field": "body", "message": str(exc)}],
            ) from exc
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            raw = data["events"]
        elif isinstance(data, list):
            raw = data
        else:
            raise BadRequest(
                'expected a JSON array of events or {"events": [...]}',
                code="invalid_batch",
                details=[{"field": "events", "message": "missing or not a list"}],
            )
    if len(raw) > MAX_BATCH:
        raise BadRequest(
            f"a batch holds at most {MAX_BATCH} events, got {len(raw)}",
            code="batch_too_large",
            details=[{"field": "events", "message": f"{len(raw)} > {MAX_BATCH}"}],
        )
    return raw


def parse_time(value: Any) -> datetime:
    """ISO 8601 with an offset -> aware UTC datetime truncated to the millisecond."""
    if type(value) is not str:
        raise ValueError("must be an ISO 8601 string")
    at = _fromisoformat(value)
    tz = at.tzinfo
    if tz is None:
        raise ValueError("must carry a UTC offset")
    if tz is not UTC:  # "+00:00" / "Z" already parse to the UTC singleton: skip the conversion
        at = at.astimezone(UTC)
    us = at.microsecond
    if us % 1000:
        at = at.replace(microsecond=us - us % 1000)
    return at


_fromisoformat = datetime.fromisoformat


def parse_event(raw: Any, *, chutes: int | None = None) -> Event:
    """Validate one raw event; raise ``ValueError((field, reason))`` naming what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(("event", "must be a JSON object"))
    seq = raw.get("seq")
    if type(seq) is not int or seq < 0:
        raise ValueError(("seq", "must be a non-negative integer"))
    try:
        at = parse_time(raw.get("ts"))
    except ValueError as exc:
        raise ValueError(("ts", str(exc))) from None
    kind = raw.get("type")
    if kind == "item":
        barcode = raw.get("barcode")
        if not isinstance(barcode, str) or not barcode or len(barcode) > MAX_BARCODE:
            raise ValueError(("barcode", f"must be a non-empty string of at most {MAX_BARCODE}"))
        chute = raw.get("chute")
        if type(chute) is not int or chute < 0 or (chutes is not None and chute > chutes):
            limit = f"0..{chutes}" if chutes is not None else "a non-negative integer"
            raise ValueError(("chute", f"must be {limit} (0 = reject chute)"))
        result = _RESULTS.get(raw.get("result"))  # type: ignore[arg-type]
        if result is None:
            raise ValueError(("result", "must be one of " + ", ".join(_RESULTS)))
        return Event(seq, at, Kind.ITEM, barcode=barcode, chute=chute, result=result)
    if kind == "state":
        state = _STATES.get(raw.get("state"))  # type: ignore[arg-type]
        if state is None:
            raise ValueError(("state", "must be one of " + ", ".join(_STATES)))
        return Event(seq, at, Kind.STATE, state=state)
    if kind == "heartbeat":
        return Event(seq, at, Kind.HEARTBEAT)
    raise ValueError(("type", "must be item, state or heartbeat"))


def parse_batch(
    raw_events: list[Any],
    *,
    now: datetime,
    chutes: int | None = None,
    oldest: datetime | None = None,
) -> ParsedBatch:
    """Validate every event of a batch; bad events are listed, never raised.

    ``oldest`` is the retention horizon: an event older than the raw events we still keep could
    not be folded into anything, so it is rejected rather than silently dropped.
    """
    latest = now + MAX_FUTURE
    events: list[Event] = []
    rejected: list[dict[str, Any]] = []
    seen: set[int] = set()
    duplicates = 0
    for index, raw in enumerate(raw_events):
        try:
            event = parse_event(raw, chutes=chutes)
        except ValueError as exc:
            field, reason = exc.args[0]
            rejected.append({"index": index, "field": field, "reason": reason})
            continue
        if event.at > latest:
            rejected.append({"index": index, "field": "ts", "reason": "is in the future"})
            continue
        if oldest is not None and event.at < oldest:
            rejected.append(
                {"index": index, "field": "ts", "reason": "is older than the retention period"}
            )
            continue
        if event.seq in seen:
            duplicates += 1
            continue
        seen.add(event.seq)
        events.append(event)
    return ParsedBatch(events, rejected, duplicates)
