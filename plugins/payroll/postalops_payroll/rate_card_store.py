"""Stored rate-card versions: publishing a new version, and finding the card in force.

A card belongs to a unit (normally a city) and applies to every station below it unless a
nearer unit has its own card. Versions are numbered per unit; a version may not take effect in
a month that is already approved somewhere it applies, so a closed month never changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

from postalops import audit, context
from postalops.db import check_in_scope, in_scope_clause, scope_of
from postalops.errors import Conflict
from postalops.tenancy import Scope, ancestors
from sqlmodel import Session, func, select

from .models import PayrollMonth, PayrollRateCard
from .period import Month
from .rate_card import RateCard, rate_card_from_dict, rate_card_to_dict, select_version


@contextmanager
def reading_above(session: Session):  # noqa: ANN201 - a context manager of Session
    """A read-only view that also sees ancestor units' rate cards and month locks.

    A station's scope does not include its city, yet the city's rate card and the city's
    approval lock govern the station's couriers. Only those two kinds of rows are read through
    this view, and nothing is written with it.
    """
    ctx = context.current_or_none()
    if ctx is None or ctx.scope.system:
        yield session
        return
    reader = ctx.db.session(Scope.system_scope())
    try:
        yield reader
    finally:
        reader.rollback()
        reader.close()


def split_by_scope(session: Session, codes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Codes the caller's session can read, and codes above its scope (read via the reader).

    Rows inside the scope are read through the caller's own session so that its uncommitted
    changes (a reopen earlier in the same transaction) are seen.
    """
    scope = scope_of(session)
    inside = sorted(c for c in set(codes) if scope.allows(c))
    above = sorted(c for c in set(codes) if not scope.allows(c))
    return inside, above


def locked_months(
    session: Session, units: Iterable[str], months: Iterable[int]
) -> set[tuple[str, int]]:
    """Pairs (unit, month) among ``units`` x ``months`` locked at the unit or any ancestor."""
    units, months = set(units), set(months)
    if not units or not months:
        return set()
    inside, above = split_by_scope(session, {a for unit in units for a in ancestors(unit)})

    def locks(reader: Session, codes: list[str]) -> set[tuple[str, int]]:
        if not codes:
            return set()
        return set(
            reader.exec(
                select(PayrollMonth.tenant_code, PayrollMonth.month).where(
                    PayrollMonth.locked.is_(True),  # type: ignore[attr-defined]
                    PayrollMonth.month.in_(sorted(months)),  # type: ignore[attr-defined]
                    PayrollMonth.tenant_code.in_(codes),  # type: ignore[union-attr]
                )
            ).all()
        )

    locked_at = locks(session, inside)
    if above:
        with reading_above(session) as reader:
            locked_at |= locks(reader, above)
    return {
        (unit, month)
        for unit in units
        for month in months
        if any((a, month) in locked_at for a in ancestors(unit))
    }


def locked_in_subtree(session: Session, unit: str, month: int) -> bool:
    """True when ``unit``'s month is locked at the unit, above it or anywhere below it."""
    if locked_months(session, [unit], [month]):
        return True
    # The unit is inside the caller's scope (callers check), so its subtree is too.
    statement = select(PayrollMonth.id).where(
        PayrollMonth.locked.is_(True),  # type: ignore[attr-defined]
        PayrollMonth.month == month,
        in_scope_clause(PayrollMonth.tenant_code, unit),
    )
    return session.exec(statement).first() is not None


def publish_rate_card(
    session: Session, unit: str, body: dict[str, Any], actor: str
) -> PayrollRateCard:
    """Validate and store a new version of ``unit``'s card (audited). 422 names every bad cell."""
    check_in_scope(session, unit)
    latest = session.exec(
        select(func.max(PayrollRateCard.version)).where(PayrollRateCard.tenant_code == unit)
    ).one()
    version = (latest or 0) + 1
    card = rate_card_from_dict(body, version=version, unit_code=unit)
    first = Month.parse(card.effective_from)

    def closed_months(reader: Session, where: Any) -> list[tuple[str, int]]:
        return list(
            reader.exec(
                select(PayrollMonth.tenant_code, PayrollMonth.month).where(
                    PayrollMonth.locked.is_(True),  # type: ignore[attr-defined]
                    PayrollMonth.month >= first.year * 100 + first.month,
                    where,
                )
            ).all()
        )

    closed = closed_months(session, in_scope_clause(PayrollMonth.tenant_code, unit))
    _, above = split_by_scope(session, ancestors(unit))
    if above:
        with reading_above(session) as reader:
            closed += closed_months(reader, PayrollMonth.tenant_code.in_(above))  # type: ignore[union-attr]
    if closed:
        months = sorted({str(m) for _, m in closed})
        raise Conflict(
            f"effective_from {card.effective_from} falls in approved month(s) {', '.join(months)}",
            code="month_locked",
            details=[
                {"field": "effective_from", "message": "month already approved", "value": m}
                for m in months
            ],
        )
    row = PayrollRateCard(
        tenant_code=unit,
        version=version,
        effective_from=card.effective_from,
        body=rate_card_to_dict(card),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        "payroll.rate_card.publish",
        target_type="payroll_rate_card",
        target_id=f"{unit}#v{version}",
        tenant=unit,
        before=None,
        after=row.body,
        session=session,
        actor=actor,
    )
    return row


def to_card(row: PayrollRateCard) -> RateCard:
    return rate_card_from_dict(row.body, version=row.version, unit_code=row.tenant_code or "")


class CardResolver:
    """Finds the card in force for any unit of a run: nearest unit with a card, latest version."""

    def __init__(self, session: Session, unit: str, month: Month) -> None:
        self.month = month
        self._by_unit: dict[str, list[RateCard]] = {}

        def load(reader: Session, where: Any) -> None:
            statement = select(PayrollRateCard).where(
                where, PayrollRateCard.effective_from <= month.first_day
            )
            for row in reader.exec(statement):
                self._by_unit.setdefault(row.tenant_code or "", []).append(to_card(row))

        load(session, in_scope_clause(PayrollRateCard.tenant_code, unit))
        _, above = split_by_scope(session, ancestors(unit))
        if above:
            with reading_above(session) as reader:
                load(reader, PayrollRateCard.tenant_code.in_(above))  # type: ignore[union-attr]
        self._cache: dict[str, RateCard | None] = {}

    def card_for(self, unit: str) -> RateCard | None:
        if unit not in self._cache:
            found = None
            for code in ancestors(unit):
                if code in self._by_unit:
                    found = select_version(self._by_unit[code], self.month)
                    break
            self._cache[unit] = found
        return self._cache[unit]
