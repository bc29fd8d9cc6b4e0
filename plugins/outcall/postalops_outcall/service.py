"""Outcall's services: the only code that reads and writes outcall tables.

Every function takes the scoped ``session`` and the caller's ``tenant`` (unit code) explicitly,
plus ``now`` where time matters, so the API, the jobs, the demo and the tests (with a controlled
clock) all go through the same path. Functions flush but never commit: the caller owns the
transaction, so a refused request writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from postalops import audit, plugin_settings, webhooks
from postalops.bulk import insert_rows
from postalops.db import in_scope_clause, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from . import call_policy as cp
from . import dnc, rules
from . import settings as settings_schema
from .address import DeliveryAddress, validate_address
from .eligibility import Catalogue, CatalogueEntry
from .intake import (
    IntakeAction,
    check_batch,
)
from .models import (
    OutcallAttempt,
    OutcallCase,
    OutcallCatalogueItem,
    OutcallOrder,
    OutcallWaybillCounter,
)
from .settings import OutcallSettings
from .waybill import make_waybill

# --- settings and catalogue -------------------------------------------------------------------

# The settings the deprecated /api/v1/outcall/settings path shows: the core-stored schema plus
# the unit's platform webhook URL (a core webhook endpoint taking outcall.* events).
SETTINGS_FIELDS = (*settings_schema.FIELDS, "webhook_url")
WEBHOOK_TYPES = ["outcall.*"]
ISSUING_METHOD_CHANGED = "outcall.issuing_method_changed"


def get_settings(session: Session, tenant: str) -> OutcallSettings:
    """The settings in force at the unit (its own values, else inherited, else defaults).

    Kept in ``session.info`` for the session's life; ``update_settings`` refreshes it."""
    cache = session.info.setdefault("outcall_settings", {})
    if tenant not in cache:
        cache[tenant] = plugin_settings.values(session, "outcall", tenant, OutcallSettings)
    return cache[tenant]


def settings_view(session: Session, tenant: str) -> dict[str, Any]:
    """The settings in force plus the platform webhook URL (the deprecated API's answer)."""
    values = get_settings(session, tenant).model_dump()
    endpoint = webhooks.plugin_endpoint(session, tenant, WEBHOOK_TYPES)
    return {**values, "webhook_url": endpoint.url if endpoint else None}


def update_settings(
    session: Session, tenant: str, changes: Mapping[str, Any], *, actor: str | None = None
) -> dict[str, Any]:
    """Change some settings at the unit (the others keep their values, own or inherited), and
    ``webhook_url`` (None removes it): through the core's settings and webhooks, audited there."""
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationError(
            "未知设置项 / unknown settings",
            code="unknown_setting",
            details=[{"field": f, "message": "unknown"} for f in unknown],
        )
    values = {k: v for k, v in changes.items() if k != "webhook_url"}
    if values:
        own = plugin_settings.effective(session, OutcallSettings, "outcall", tenant).own
        plugin_settings.save(
            session, OutcallSettings, "outcall", tenant, {**own, **values}, actor=actor
        )
        session.info.setdefault("outcall_settings", {}).pop(tenant, None)
        rules.policy_of(get_settings(session, tenant))
    if "webhook_url" in changes:
        url = changes["webhook_url"]
        webhooks.set_plugin_endpoint(
            session, tenant, WEBHOOK_TYPES, str(url) if url else None, actor=actor
        )
    session.flush()
    return settings_view(session, tenant)


def load_catalogue(session: Session, tenant: str) -> Catalogue:
    rows = session.exec(
        select(OutcallCatalogueItem)
        .where(OutcallCatalogueItem.tenant_code == tenant)
        .order_by(OutcallCatalogueItem.department, OutcallCatalogueItem.item)
    ).all()
    return Catalogue(tuple(CatalogueEntry(r.department, r.item, r.participating) for r in rows))


def save_catalogue_entries(
    session: Session,
    tenant: str,
    entries: Iterable[CatalogueEntry | Mapping[str, Any]],
    *,
    actor: str | None = None,
    audit_change: bool = True,
) -> dict[str, int]:
    """Add or update catalogue entries (department, item, participating[, script]); audited."""
    existing = {
        (r.department, r.item): r
        for r in session.exec(
            select(OutcallCatalogueItem).where(OutcallCatalogueItem.tenant_code == tenant)
        ).all()
    }
    created = updated = 0
    details = []
    changes = []
    for n, e in enumerate(entries):
        dept, item, on, script = rules.read_catalogue_entry(e)
        if not dept or not item:
            details.append(
                {"row": n, "field": "department" if not dept else "item", "message": "required"}
            )
            continue
        row = existing.get((dept, item))
        if row is None:
            row = OutcallCatalogueItem(
                tenant_code=tenant, department=dept, item=item, participating=on
            )
            existing[(dept, item)] = row
            created += 1
            changes.append({"department": dept, "item": item, "participating": on, "was": None})
        elif row.participating != on or (script is not None and script != row.script):
            changes.append(
                {"department": dept, "item": item, "participating": on, "was": row.participating}
            )
            row.participating = on
            updated += 1
        if script is not None:
            row.script = str(script)[:2000]
        session.add(row)
    if details:
        raise ValidationError(
            "目录数据有误 / invalid catalogue rows", code="invalid_catalogue", details=details
        )
    if audit_change and changes:
        audit.record(
            "outcall.catalogue.update",
            target_type="outcall_catalogue",
            target_id=tenant,
            tenant=tenant,
            before=None,
            after={"changes": changes},
            session=session,
            actor=actor,
        )
    session.flush()
    return {"created": created, "updated": updated}


# --- intake -----------------------------------------------------------------------------------


def intake_cases(
    session: Session,
    tenant: str,
    rows: list[tuple[int, Mapping[str, Any]]],
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Take a batch of platform rows ``[(row_number, row)]``: all or nothing, report per row.

    Refuses (422) when any row is malformed or names an unknown department/item, and (409) when
    a known case comes back with contradicting immutable fields; otherwise creates, updates or
    closes each case and reports ``{"summary": {...}, "rows": [{row, status, key, eligible,
    failed_rules}]}``.
    """
    now = now or utcnow()
    catalogue = load_catalogue(session, tenant)
    policy = rules.policy_of(get_settings(session, tenant))
    if not rows:
        raise ValidationError(
            "没有数据行 / the batch has no rows", code="empty_batch", details=[{"field": "body"}]
        )
    plans, stored_cases = _checked_plans(session, tenant, rows, catalogue)
    outcome = _write_plans(
        session, tenant, plans, stored_cases, rules.Verdicts(catalogue), policy, now
    )
    return rules.intake_report(plans, outcome)


def _checked_plans(
    session: Session, tenant: str, rows: list[tuple[int, Mapping[str, Any]]], catalogue: Catalogue
) -> tuple[list[rules.Plan], dict[str, Any]]:
    """Each row's plan, with the stored cases the rows name (by case number); refuses the whole
    batch when any row has an error."""
    numbers = [n for n, _ in rows]
    # One pass: each row's shape and catalogue errors, contradictions within the batch, and
    # contradictions with stored cases are all collected before anything is answered.
    records, errors, only_conflicts = check_batch(
        [r for _, r in rows], catalogue=catalogue, row_numbers=numbers
    )
    # Rows that failed their shape check, as far as they could be read: compared with the
    # stored case too, so their contradictions come with their shape errors (issue 15 §5).
    partial = [(n, values) for n, values in errors.raw_rows() if values.get("case_no")]
    case_numbers = {r.case_no for _, r in records} | {v["case_no"] for _, v in partial}
    # The stored cases as plain rows of the columns compared and reported: a re-sent batch is
    # mostly unchanged, and those rows need no ORM object (issue 17 §4).
    stored_cases = {c.case_no: c for c in _stored_cases(session, tenant, list(case_numbers))}
    stored = {no: rules.record_of(c) for no, c in stored_cases.items()}
    plans = rules.plan_rows(records, dict(stored), errors)
    rules.partial_contradictions(partial, stored, errors)
    rules.raise_intake_errors(errors, only_conflicts)
    return plans, stored_cases


def _write_plans(
    session: Session,
    tenant: str,
    plans: list[rules.Plan],
    stored_cases: Mapping[str, Any],
    verdict: rules.Verdicts,
    policy: cp.CallPolicy,
    now: dt.datetime,
) -> dict[str, tuple[bool, list[str], str]]:
    """Insert the new cases, update the stored ones a row changes or closes; returns each
    case's (eligible, failed rules, status) after the batch."""
    # Stored cases a row changes (or closes) are updated as ORM objects, loaded now; unchanged
    # ones are left alone. New cases are inserted in one batched statement.
    touched = [
        merged.case_no
        for _n, action, merged in plans
        if merged.case_no in stored_cases
        and (action != IntakeAction.UNCHANGED or merged.collected_at is not None)
    ]
    objects = _case_objects(session, [stored_cases[no].id for no in dict.fromkeys(touched)])
    new_rows: dict[str, dict[str, Any]] = {}
    outcome: dict[str, tuple[bool, list[str], str]] = {}
    for _n, action, merged in plans:
        stored = stored_cases.get(merged.case_no)
        if stored is None:
            eligible, checks, failed = verdict(merged)
            state = rules.new_case_state(merged, eligible, policy)
            new_rows[merged.case_no] = rules.new_row(merged, tenant, eligible, checks, state, now)
            outcome[merged.case_no] = (eligible, failed, state.status.value)
            continue
        case = objects.get(stored.id)
        if case is None:  # unchanged, not collected: nothing to write
            outcome[merged.case_no] = (
                stored.eligible,
                rules.failed_rules(stored.rules),
                stored.status,
            )
            continue
        rules.update_case(case, action, merged, verdict, policy)
        if action != IntakeAction.UNCHANGED:
            case.updated_at = now
            session.add(case)
        outcome[merged.case_no] = (case.eligible, rules.failed_rules(case.rules), case.status)
    # Through the core's bulk writer, not the ORM bulk path: that split the rows into one
    # statement per run of rows with the same None columns (~1 per 3 rows of a platform batch).
    # It checks every row's tenant against the scope; on PostgreSQL it COPYs.
    insert_rows(session, OutcallCase, list(new_rows.values()))
    session.flush()
    return outcome


# The stored case's columns intake compares, merges and reports.
_STORED_COLUMNS = (
    "id",
    "case_no",
    "department",
    "service_item",
    "applicant_type",
    "approval_level",
    "applicant_name",
    "phone",
    "id_number",
    "approved_at",
    "issuing_method",
    "old_certificate_return",
    "ready_at",
    "collected_at",
    "eligible",
    "rules",
    "status",
)


def _stored_cases(session: Session, tenant: str, numbers: list[str]) -> list[Any]:
    """The unit's stored cases of these case numbers, as rows of ``_STORED_COLUMNS``: one query
    per 5,000 numbers on PostgreSQL (``= ANY`` of one array parameter, which keeps the unique
    index), per 500 on SQLite (an ``IN`` list under its parameter limit)."""
    columns = [getattr(OutcallCase, name) for name in _STORED_COLUMNS]
    query = sa.select(*columns).where(OutcallCase.tenant_code == tenant)
    out: list[Any] = []
    if session.get_bind().dialect.name == "postgresql":
        nos = sa.bindparam("nos", type_=postgresql.ARRAY(sa.String))
        query = query.where(OutcallCase.case_no == sa.any_(nos))
        for i in range(0, len(numbers), 5_000):
            out.extend(session.execute(query, {"nos": numbers[i : i + 5_000]}).all())
        return out
    for i in range(0, len(numbers), 500):
        out.extend(
            session.execute(query.where(OutcallCase.case_no.in_(numbers[i : i + 500]))).all()
        )
    return out


def _chunked_in(
    session: Session, model: Any, column: Any, values: list[Any], tenant: str
) -> list[Any]:
    out = []
    for i in range(0, len(values), 500):
        out.extend(
            session.exec(
                select(model).where(column.in_(values[i : i + 500]), model.tenant_code == tenant)
            ).all()
        )
    return out


def _case_objects(session: Session, ids: list[int]) -> dict[int, OutcallCase]:
    """The cases of these ids as ORM objects (to update), by id."""
    out: dict[int, OutcallCase] = {}
    for i in range(0, len(ids), 500):
        for case in session.exec(select(OutcallCase).where(OutcallCase.id.in_(ids[i : i + 500]))):
            out[case.id] = case
    return out


# --- the queue --------------------------------------------------------------------------------


def expire_due(session: Session, tenant: str, now: dt.datetime | None = None) -> int:
    """Expire queued cases past their deadline (one UPDATE); returns how many."""
    now = now or utcnow()
    result = session.execute(
        sa.update(OutcallCase)
        .where(
            in_scope_clause(OutcallCase.tenant_code, tenant),
            OutcallCase.status == cp.CaseStatus.QUEUED.value,
            OutcallCase.deadline <= now,
            sa.or_(OutcallCase.claim_expires_at.is_(None), OutcallCase.claim_expires_at <= now),
        )
        .values(status=cp.CaseStatus.EXPIRED.value, next_call_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def active_claim(session: Session, tenant: str, agent: str, now: dt.datetime) -> OutcallCase | None:
    return session.exec(
        select(OutcallCase).where(
            in_scope_clause(OutcallCase.tenant_code, tenant),
            OutcallCase.claimed_by == agent,
            OutcallCase.claim_expires_at > now,
            OutcallCase.status == cp.CaseStatus.QUEUED.value,
        )
    ).first()


def claim_next(
    session: Session,
    tenant: str,
    agent: str,
    *,
    now: dt.datetime | None = None,
    policy: cp.CallPolicy | None = None,
    resume: bool = True,
) -> OutcallCase | None:
    """Claim the next callable case for ``agent`` (or return the one they already hold).

    Two agents never get the same case. On PostgreSQL the claim is one statement: an UPDATE of
    the first callable case, picked by a sub-select ``FOR UPDATE SKIP LOCKED`` (a case another
    agent is claiming is skipped, not waited for), returning the claimed case. On SQLite, which
    has no row locks, it is a compare-and-set UPDATE of each candidate in turn that only succeeds
    while nobody else holds a live claim, so a racing agent falls through to the next candidate.
    Both pick by the same rules (``_callable``). Returns None outside calling hours or when
    nothing is due. The caller commits. ``policy`` may be passed by callers that already hold
    the unit's settings, and ``resume=False`` skips looking for a claim the agent already holds
    (the demo's agents never hold one here).
    """
    now = now or utcnow()
    policy = policy or rules.policy_of(get_settings(session, tenant))
    if resume:
        held = active_claim(session, tenant, agent, now)
        if held is not None:
            return held
    if not policy.calling_hours.contains(now):
        return None
    if session.get_bind().dialect.name == "postgresql":
        return _claim_in_one_statement(session, tenant, agent, now, policy)
    return _claim_compare_and_set(session, tenant, agent, now, policy)


def _free(now: dt.datetime) -> Any:
    """SQL: nobody holds a live claim on the case."""
    return sa.or_(OutcallCase.claimed_by.is_(None), OutcallCase.claim_expires_at <= now)


def _callable(
    session: Session, tenant: str, agent: str, now: dt.datetime, policy: cp.CallPolicy
) -> Any:
    """The ids of the cases ``agent`` may claim at ``now``, in the order they are offered: the
    agent's own call-backs first, then by due time, then by id."""
    not_held_for_other = sa.or_(
        OutcallCase.reserved_agent.is_(None),
        OutcallCase.reserved_agent == agent,
        OutcallCase.reserved_until <= now,
    )
    own_first = sa.case((OutcallCase.reserved_agent == agent, 0), else_=1)
    # never a number on the do-not-call list, nor one called its daily cap already (dnc.py)
    fair = dnc.claim_filters(session, tenant, now, policy)
    return (
        select(OutcallCase.id)
        .where(
            in_scope_clause(OutcallCase.tenant_code, tenant),
            OutcallCase.status == cp.CaseStatus.QUEUED.value,
            OutcallCase.next_call_at <= now,
            OutcallCase.deadline > now,
            _free(now),
            not_held_for_other,
            *fair,
        )
        .order_by(own_first, OutcallCase.next_call_at, OutcallCase.id)
    )


def _claim_in_one_statement(
    session: Session, tenant: str, agent: str, now: dt.datetime, policy: cp.CallPolicy
) -> OutcallCase | None:
    """PostgreSQL: ``UPDATE … WHERE id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING
    …``, one round trip (issue 17 §5). The sub-select stands alone (not correlated with the
    UPDATE's table) and locks only the case rows."""
    first = (
        _callable(session, tenant, agent, now, policy)
        .limit(1)
        .with_for_update(skip_locked=True, of=OutcallCase)
        .scalar_subquery()
        .correlate(None)
    )
    return session.execute(
        sa.update(OutcallCase)
        .where(OutcallCase.id == first)
        .values(claimed_by=agent, claim_expires_at=now + policy.claim_ttl)
        .returning(OutcallCase)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar_one_or_none()


def _claim_compare_and_set(
    session: Session, tenant: str, agent: str, now: dt.datetime, policy: cp.CallPolicy
) -> OutcallCase | None:
    """SQLite: up to 8 candidates, then a compare-and-set UPDATE of each until one is won."""
    candidates_of = _callable(session, tenant, agent, now, policy).limit(8)
    for _ in range(5):
        candidates = session.exec(candidates_of).all()
        if not candidates:
            return None
        for case_id in candidates:
            won = session.execute(
                sa.update(OutcallCase)
                .where(
                    OutcallCase.id == case_id,
                    OutcallCase.status == cp.CaseStatus.QUEUED.value,
                    _free(now),
                )
                .values(claimed_by=agent, claim_expires_at=now + policy.claim_ttl)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won == 1:
                return session.get(OutcallCase, case_id, populate_existing=True)
    return None


def release_claim(session: Session, tenant: str, case_id: int, agent: str) -> None:
    """Give a claimed case back without calling (the agent was interrupted)."""
    case = _claimed_case(session, tenant, case_id, agent, utcnow())
    case.claimed_by = None
    case.claim_expires_at = None
    session.add(case)
    session.flush()


def get_case(session: Session, tenant: str, case_id: int) -> OutcallCase:
    case = session.exec(
        select(OutcallCase).where(
            OutcallCase.id == case_id, in_scope_clause(OutcallCase.tenant_code, tenant)
        )
    ).first()
    if case is None:
        raise NotFound(
            f"办件不存在 / no case {case_id}",
            details=[{"field": "case_id", "message": str(case_id)}],
        )
    return case


def _claimed_case(
    session: Session, tenant: str, case_id: int, agent: str, now: dt.datetime
) -> OutcallCase:
    """The case the agent holds a live claim on (409 otherwise: ``rules.check_claim``)."""
    case = get_case(session, tenant, case_id)
    rules.check_claim(case.collected_at, case.claimed_by, case.claim_expires_at, agent, now)
    return case


def record_outcome(
    session: Session,
    tenant: str,
    case_id: int,
    agent: str,
    outcome: str,
    *,
    now: dt.datetime | None = None,
    callback_at: dt.datetime | None = None,
    address: Mapping[str, Any] | None = None,
    note: str = "",
    policy: cp.CallPolicy | None = None,
    details: Mapping[str, Any] | None = None,
) -> tuple[OutcallCase, OutcallOrder | None]:
    """Record the agent's call on a case they hold; on ``accepted`` create the delivery order.

    Refuses (409) an unclaimed case or an expired claim, (422) a bad outcome, a callback
    without a future time, or an accepted call without a complete address. Nothing is written
    on refusal. ``details`` are further attempt columns (handle time, disposition, recording:
    see ``call_flow``).
    """
    now = now or utcnow()
    called = rules.read_outcome(outcome)
    case = _claimed_case(session, tenant, case_id, agent, now)
    policy = policy or rules.policy_of(get_settings(session, case.tenant_code))
    checked_address = rules.delivery_address(called, address)
    state = cp.after_outcome(
        rules.queue_state(case), called, at=now, agent=agent, policy=policy, callback_at=callback_at
    )
    session.add(
        OutcallAttempt(
            tenant_code=case.tenant_code,
            case_id=case.id,
            agent=agent,
            outcome=called.value,
            at=now,
            callback_at=callback_at if called == cp.Outcome.CALLBACK else None,
            note=note[:500],
            **dict(details or {}),
        )
    )
    rules.store_state(case, state)
    case.claimed_by = None
    case.claim_expires_at = None
    if case.first_called_at is None:
        case.first_called_at = now
    case.updated_at = now
    session.add(case)
    order = None
    if checked_address is not None:
        order = _mail_order(session, case, checked_address, agent, now)
    session.flush()
    return case, order


def _mail_order(
    session: Session, case: OutcallCase, address: DeliveryAddress, agent: str, now: dt.datetime
) -> OutcallOrder:
    """The accepted case goes by mail: its delivery order, and the platform told through the
    core's webhook outbox, in this transaction."""
    case.issuing_method = "mail"
    order = create_orders(
        session,
        case.tenant_code,
        [
            {
                "source": "outcall",
                "source_ref": case.case_no,
                "case_id": case.id,
                "item": case.service_item,
                "sender": case.department,
                "address": address,
                "created_at": now,
            }
        ],
        actor=agent,
    )[0]
    webhooks.emit(
        session, case.tenant_code, ISSUING_METHOD_CHANGED, rules.notification_payload(case, order)
    )
    return order


# --- orders -----------------------------------------------------------------------------------


def next_waybills(session: Session, prefix: str, count: int) -> list[str]:
    """Reserve ``count`` consecutive S10 numbers under ``prefix``.

    The counter row is bumped first and read second inside the caller's transaction, so the
    write lock is held while reading: concurrent callers can never read the same block.
    """
    if count <= 0:
        return []
    bumped = session.execute(
        sa.update(OutcallWaybillCounter)
        .where(OutcallWaybillCounter.prefix == prefix)
        .values(next_serial=OutcallWaybillCounter.next_serial + count)
    ).rowcount
    if not bumped:
        session.add(OutcallWaybillCounter(prefix=prefix, next_serial=1 + count))
        session.flush()
        first = 1
    else:
        top = session.execute(
            sa.select(OutcallWaybillCounter.next_serial).where(
                OutcallWaybillCounter.prefix == prefix
            )
        ).scalar_one()
        first = top - count
    if first + count - 1 > 99_999_999:
        raise Conflict(
            f"运单号段 {prefix} 已用尽 / S10 serials under {prefix} are used up",
            code="waybills_exhausted",
        )
    return [make_waybill(prefix, s) for s in range(first, first + count)]


def create_orders(
    session: Session, tenant: str, orders: list[Mapping[str, Any]], *, actor: str | None = None
) -> list[OutcallOrder]:
    """Create government-mail orders in one batch. Each mapping has ``source``, ``source_ref``,
    ``item``, ``address`` (mapping or ``DeliveryAddress``) and optionally ``case_id``,
    ``sender``, ``created_at``. Idempotent on (source, source_ref): existing orders are returned.
    """
    settings = get_settings(session, tenant)
    refs = [(o["source"], str(o["source_ref"])) for o in orders]
    have = {
        (o.source, o.source_ref): o
        for o in _chunked_in(
            session, OutcallOrder, OutcallOrder.source_ref, [r for _, r in refs], tenant
        )
    }
    details = []
    addresses = []
    for n, o in enumerate(orders):
        a = o["address"]
        try:
            addresses.append(a if isinstance(a, DeliveryAddress) else validate_address(a))
        except ValidationError as exc:
            details.extend({"row": n, **d} for d in exc.details)
    if details:
        raise ValidationError(
            "收件地址有误 / invalid addresses", code="invalid_address", details=details
        )
    new = [i for i, r in enumerate(refs) if r not in have]
    numbers = iter(next_waybills(session, settings.waybill_prefix, len(new)))
    out = []
    for i, (o, a) in enumerate(zip(orders, addresses, strict=True)):
        if refs[i] in have:
            out.append(have[refs[i]])
            continue
        row = OutcallOrder(
            tenant_code=tenant,
            waybill_no=next(numbers),
            source=o["source"],
            source_ref=str(o["source_ref"]),
            case_id=o.get("case_id"),
            item=o["item"],
            sender=o.get("sender", ""),
            recipient=a.recipient,
            phone=a.phone,
            province=a.province,
            city=a.city,
            district=a.district,
            detail=a.detail,
            created_by=actor or "",
            created_at=o.get("created_at") or utcnow(),
        )
        session.add(row)
        have[refs[i]] = row
        out.append(row)
    session.flush()
    return out


def mail_volume(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    """Government-mail orders created in the subtree of ``tenant`` in the period (for other
    plugins, through the ``postalops_government_mail`` hook): counts by source and unit."""
    start, end = rules.period_bounds(date_from, date_to)
    rows = session.execute(
        sa.select(OutcallOrder.tenant_code, OutcallOrder.source, sa.func.count())
        .where(
            in_scope_clause(OutcallOrder.tenant_code, tenant),
            OutcallOrder.created_at >= start,
            OutcallOrder.created_at < end,
        )
        .group_by(OutcallOrder.tenant_code, OutcallOrder.source)
    ).all()
    by_unit: dict[str, dict[str, int]] = {}
    for unit, source, n in rows:
        by_unit.setdefault(unit, {})[source] = int(n)
    return {"orders": sum(sum(v.values()) for v in by_unit.values()), "by_unit": by_unit}


# --- privacy ----------------------------------------------------------------------------------


def reveal(
    session: Session, tenant: str, case_id: int, *, actor: str, reason: str = ""
) -> dict[str, str]:
    """Show one case's full phone and ID number; writes an audit record every time."""
    case = get_case(session, tenant, case_id)
    audit.record(
        "outcall.reveal",
        target_type="outcall_case",
        target_id=case.case_no,
        tenant=case.tenant_code,
        before=None,
        after={"fields": ["phone", "id_number"], "reason": reason[:200]},
        session=session,
        actor=actor,
    )
    session.flush()
    return {"case_no": case.case_no, "phone": case.phone, "id_number": case.id_number}
