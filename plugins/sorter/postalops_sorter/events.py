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
from dataclasses import dataclass, field
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


_fromisoformat = datetime.fromisoformat


@dataclass(slots=True)
class Columns:
    """A validated batch held column by column, as ingest stores it (no object per event).

    Row ``i`` is ``seqs[i], ats[i], kinds[i], ...``; ``kinds``, ``results`` and ``states`` hold
    the enum values as plain strings (``None`` where the kind has no such field).
    """

    seqs: list[int] = field(default_factory=list)
    ats: list[datetime] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    barcodes: list[str | None] = field(default_factory=list)
    chutes: list[int | None] = field(default_factory=list)
    results: list[str | None] = field(default_factory=list)
    states: list[str | None] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Events whose sequence number already appeared earlier in the same batch (kept: the first).
    duplicates: int = 0

    def __len__(self) -> int:
        return len(self.seqs)

    def rows(self) -> Any:
        """``(seq, at, kind, barcode, chute, result, state)`` tuples."""
        return zip(
            self.seqs,
            self.ats,
            self.kinds,
            self.barcodes,
            self.chutes,
            self.results,
            self.states,
            strict=True,
        )

    def select(self, keep: list[int]) -> Columns:
        """The rows at the positions ``keep``, in that order."""
        return Columns(
            [self.seqs[i] for i in keep],
            [self.ats[i] for i in keep],
            [self.kinds[i] for i in keep],
            [self.barcodes[i] for i in keep],
            [self.chutes[i] for i in keep],
            [self.results[i] for i in keep],
            [self.states[i] for i in keep],
            self.rejected,
            self.duplicates,
        )

    def events(self) -> list[Event]:
        return [
            Event(
                seq,
                at,
                Kind(kind),
                barcode=barcode,
                chute=chute,
                result=_RESULTS[result] if result is not None else None,
                state=_STATES[state] if state is not None else None,
            )
            for seq, at, kind, barcode, chute, result, state in self.rows()
        ]

    @classmethod
    def from_events(cls, events: list[Event]) -> Columns:
        out = cls()
        for e in events:
            out.seqs.append(e.seq)
            out.ats.append(e.at)
            out.kinds.append(e.kind.value)
            out.barcodes.append(e.barcode)
            out.chutes.append(e.chute)
            out.results.append(e.result.value if e.result is not None else None)
            out.states.append(e.state.value if e.state is not None else None)
        return out


_RESULT_REASON = "must be one of " + ", ".join(_RESULTS)
_STATE_REASON = "must be one of " + ", ".join(_STATES)
_BARCODE_REASON = f"must be a non-empty string of at most {MAX_BARCODE}"


def parse_columns(
    raw_events: list[Any],
    *,
    now: datetime,
    chutes: int | None = None,
    oldest: datetime | None = None,
) -> Columns:
    """Validate every event of a batch into :class:`Columns`; bad events are listed, never raised.

    Checks, in this order, and the first failure names the field: the event is an object; ``seq``
    a non-negative integer; ``ts`` ISO 8601 with an offset (normalised to UTC, truncated to the
    millisecond); ``type``; for an item ``barcode``, ``chute`` (0..chutes, 0 = reject chute) and
    ``result``; for a state change ``state``; then ``ts`` not in the future (beyond a clock drift
    of :data:`MAX_FUTURE`) nor older than ``oldest`` (the retention horizon: such an event could
    not be folded into anything, so it is rejected rather than silently dropped). A sequence
    number repeated within the batch keeps the first and counts as a duplicate.

    One loop over plain lists, no object per event: this is the hot path of telemetry ingest.
    """
    latest = now + MAX_FUTURE
    out = Columns()
    seqs, ats, kinds = out.seqs, out.ats, out.kinds
    barcodes, chute_col, results, states = out.barcodes, out.chutes, out.results, out.states
    rejected = out.rejected
    seen: set[int] = set()
    duplicates = 0
    fromiso = _fromisoformat
    utc = UTC
    results_map, states_map = _RESULTS, _STATES
    max_barcode = MAX_BARCODE
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            rejected.append({"index": index, "field": "event", "reason": "must be a JSON object"})
            continue
        get = raw.get
        seq = get("seq")
        if type(seq) is not int or seq < 0:
            rejected.append(
                {"index": index, "field": "seq", "reason": "must be a non-negative integer"}
            )
            continue
        ts = get("ts")
        if type(ts) is not str:
            rejected.append({"index": index, "field": "ts", "reason": "must be an ISO 8601 string"})
            continue
        try:
            at = fromiso(ts)
            tz = at.tzinfo
            if tz is not utc:  # "+00:00" / "Z" parse to the UTC singleton: nothing to convert
                if tz is None:
                    raise ValueError("must carry a UTC offset")
                at = at.astimezone(utc)
        except (ValueError, OverflowError) as exc:
            rejected.append({"index": index, "field": "ts", "reason": str(exc)})
            continue
        us = at.microsecond
        if us % 1000:
            at = at.replace(microsecond=us - us % 1000)
        kind = get("type")
        if kind == "item":
            barcode = get("barcode")
            if type(barcode) is not str or not barcode or len(barcode) > max_barcode:
                rejected.append({"index": index, "field": "barcode", "reason": _BARCODE_REASON})
                continue
            chute = get("chute")
            if type(chute) is not int or chute < 0 or (chutes is not None and chute > chutes):
                limit = f"0..{chutes}" if chutes is not None else "a non-negative integer"
                rejected.append(
                    {
                        "index": index,
                        "field": "chute",
                        "reason": f"must be {limit} (0 = reject chute)",
                    }
                )
                continue
            result = get("result")
            if type(result) is not str or result not in results_map:
                rejected.append({"index": index, "field": "result", "reason": _RESULT_REASON})
                continue
            state = None
        elif kind == "state":
            state = get("state")
            if type(state) is not str or state not in states_map:
                rejected.append({"index": index, "field": "state", "reason": _STATE_REASON})
                continue
            barcode = chute = result = None
        elif kind == "heartbeat":
            barcode = chute = result = state = None
        else:
            rejected.append(
                {"index": index, "field": "type", "reason": "must be item, state or heartbeat"}
            )
            continue
        if at > latest:
            rejected.append({"index": index, "field": "ts", "reason": "is in the future"})
            continue
        if oldest is not None and at < oldest:
            rejected.append(
                {"index": index, "field": "ts", "reason": "is older than the retention period"}
            )
            continue
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        seqs.append(seq)
        ats.append(at)
        kinds.append(kind)
        barcodes.append(barcode)
        chute_col.append(chute)
        results.append(result)
        states.append(state)
    out.duplicates = duplicates
    return out


def parse_batch(
    raw_events: list[Any],
    *,
    now: datetime,
    chutes: int | None = None,
    oldest: datetime | None = None,
) -> ParsedBatch:
    """Like :func:`parse_columns`, with one :class:`Event` per good event."""
    cols = parse_columns(raw_events, now=now, chutes=chutes, oldest=oldest)
    return ParsedBatch(cols.events(), cols.rejected, cols.duplicates)
