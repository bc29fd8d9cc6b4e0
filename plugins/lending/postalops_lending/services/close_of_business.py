"""The nightly close of business (日终): days past due, five-category classification and the
portfolio snapshot for one date, in a handful of set-based SQL statements; then the books
(``services.accounting.close_accounts``): each loan's interest and penalty accrued up to the date
and its provision change for its class.

Idempotent: every statement computes its result from the instalments and loans as they stand,
and the snapshot for the date is replaced, so running it twice changes nothing the second time.
Statements filter explicitly on the unit subtree (SQLite has no row-level security; on
PostgreSQL RLS applies as well).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from postalops_lending.classification import Bands, sql_case
from postalops_lending.services import accounting


def _subtree(column: str) -> str:
    return f"({column} = :unit OR {column} LIKE :unit_prefix)"


def _days_between(dialect: str, later: str, earlier: str) -> str:
    if dialect == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def statements(dialect: str, bands: Bands = Bands()) -> list[str]:
    """The SQL of one close of business, in order (parameters :as_of, :unit, :unit_prefix)."""
    as_of = "CAST(:as_of AS DATE)" if dialect == "postgresql" else ":as_of"
    oldest_unpaid = (
        "SELECT loan_id, MIN(due_date) AS oldest FROM lending_instalment "
        f"WHERE active AND NOT paid_off AND due_date < {as_of} AND {_subtree('tenant_code')} "
        "GROUP BY loan_id"
    )
    in_scope = f"status = 'active' AND disbursed_on <= {as_of} AND {_subtree('tenant_code')}"
    dpd = (
        f"SELECT l.id AS id, COALESCE({_days_between(dialect, as_of, 'o.oldest')}, 0) AS dpd "
        f"FROM lending_loan l LEFT JOIN ({oldest_unpaid}) o ON o.loan_id = l.id "
        f"WHERE l.status = 'active' AND l.disbursed_on <= {as_of} "
        f"AND {_subtree('l.tenant_code')}"
    )
    classified = f"SELECT id, dpd, {sql_case('dpd', bands)} AS category FROM ({dpd}) d"
    if dialect == "postgresql":
        total = "SUM(outstanding_principal)"
    else:
        # SQLite keeps money as exact text; sum whole fen as integers, print back to 2 places
        total = "printf('%.2f', SUM(CAST(ROUND(outstanding_principal * 100) AS INTEGER)) / 100.0)"
    return [
        # 1. days past due from the oldest unpaid billed line of the active schedule, and the
        #    five-category class from the bands (the same CASE the rules test); only loans
        #    whose figures change are written, so a quiet night writes almost nothing
        "UPDATE lending_loan SET days_past_due = n.dpd, category = n.category "
        f"FROM ({classified}) n WHERE lending_loan.id = n.id "
        "AND (lending_loan.days_past_due <> n.dpd OR lending_loan.category <> n.category)",
        # 2. the snapshot of the date, replaced whole
        f"DELETE FROM lending_portfolio_snapshot WHERE as_of = {as_of} AND {_subtree('tenant_code')}",
        "INSERT INTO lending_portfolio_snapshot (tenant_code, as_of, category, loans, outstanding) "
        f"SELECT tenant_code, {as_of}, category, COUNT(*), {total} "
        f"FROM lending_loan WHERE {in_scope} GROUP BY tenant_code, category",
    ]


def run(session: Session, unit: str, as_of: dt.date, bands: Bands = Bands()) -> dict[str, Any]:
    """Close business for ``unit``'s subtree on ``as_of``; returns loans classified, how many
    changed, and the loans per category."""
    session.flush()  # the statements below read what the ORM has pending
    dialect = session.get_bind().dialect.name
    params = {
        "as_of": as_of.isoformat() if dialect != "postgresql" else as_of,
        "unit": unit,
        "unit_prefix": unit + ".%",
    }
    changed = 0
    for i, sql in enumerate(statements(dialect, bands)):
        result = session.execute(sa.text(sql), params)
        if i == 0:
            changed = result.rowcount
    counts = dict(
        session.execute(
            sa.text(
                "SELECT category, SUM(loans) FROM lending_portfolio_snapshot "
                f"WHERE as_of = :as_of AND {_subtree('tenant_code')} GROUP BY category"
            ),
            params,
        ).all()
    )
    categories = {k: int(v) for k, v in counts.items()}
    session.expire_all()  # loans just reclassified in SQL are read afresh by the ORM
    books = accounting.close_accounts(session, unit, as_of)
    return {
        "as_of": as_of.isoformat(),
        "loans": sum(categories.values()),
        "changed": changed,
        "categories": categories,
        **books,
    }
