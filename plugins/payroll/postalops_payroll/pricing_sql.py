"""Set-based pricing on PostgreSQL: the rules of ``payslip.py``, as SQL over the month's tallies.

A province run prices 20,000 couriers into some 450,000 lines. Priced one by one in Python and
sent back as parameters, that took 11 s; here the database joins the tallies with the rate
cards in force and writes every line and slip itself, in four statements, and Python only
ships the run's parameters: who is priced with which card or contract term (``_slate``).

The rules are those of ``payslip.price_own_courier`` and ``price_outsourced_courier``, and
the same tests check both paths:

* NUMERIC arithmetic is exact, and ``round(x, 2)`` rounds half away from zero, which is
  Python's ``ROUND_HALF_UP``; each line is rounded on its own, a slip's total is the exact sum
  of its lines;
* a quota band is chosen by comparing collected postage with ``edge x quota`` (no division);
* each line is stored at the position ``payslip.line_positions`` gives it, which orders lines
  as the Python pricing lists them (base, delivery cells by category, mode and tier, volume
  tiers, commissions and agent fees by category, adjustments by entry), with no sort.

Every statement runs on the caller's transaction, under its scope and (on PostgreSQL)
row-level security; the unit was checked against the scope by the run, and each filter names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from .payslip import BLOCK, SORTED_CATEGORIES, SORTED_MODES, SORTED_TIERS

if TYPE_CHECKING:  # pragma: no cover
    from .payroll_run import Slated
    from .rate_card import RateCard

# Parameters of the run, loaded with COPY into temporary tables dropped at commit.
_TEMP_TABLES = {
    "pr_courier": "courier_id int PRIMARY KEY, courier_code text, tenant_code text, kind text, "
    "base_pay numeric, grade text, card int, term_code text, unit_price numeric",
    "pr_card": "card int PRIMARY KEY, version int",
    "pr_rate": "card int, category text, mode text, tier text, rate numeric, "
    "PRIMARY KEY (card, category, mode, tier)",
    "pr_fee": "card int, category text, fee numeric, share numeric, PRIMARY KEY (card, category)",
    "pr_quota": "card int, grade text, quota numeric, PRIMARY KEY (card, grade)",
    "pr_band": "card int, lower_edge numeric, upper_edge numeric, lower_closed boolean, "
    "upper_closed boolean, multiplier numeric, label text",
    "pr_vtier": "card int, idx int, above bigint, ceiling bigint, uplift numeric",
}

_IN_UNIT = "(t.tenant_code = %(unit)s OR t.tenant_code LIKE %(below)s)"

_CELLS = f"""
CREATE TEMP TABLE pr_cell ON COMMIT DROP AS
SELECT t.courier_id, t.category, t.mode, t.tier, sum(t.items) AS n
FROM payroll_delivery_tally t JOIN pr_courier c ON c.courier_id = t.courier_id
WHERE t.month = %(month)s AND {_IN_UNIT}
GROUP BY 1, 2, 3, 4 HAVING sum(t.items) > 0
"""

_POSTAGE = f"""
CREATE TEMP TABLE pr_post ON COMMIT DROP AS
SELECT t.courier_id, t.category, round(sum(t.postage_fen)::numeric / 100, 2) AS postage
FROM payroll_collection_tally t JOIN pr_courier c ON c.courier_id = t.courier_id
WHERE t.month = %(month)s AND {_IN_UNIT}
GROUP BY 1, 2
"""

# One row per slip: items, collected postage, quota and the band it falls in.
_SLIPS = """
CREATE TEMP TABLE pr_slip ON COMMIT DROP AS
SELECT c.*, coalesce(d.delivered, 0) AS delivered, coalesce(d.pickup, 0) AS pickup,
       q.quota, coalesce(p.collected, 0) AS collected, k.version, b.multiplier, b.label
FROM pr_courier c
LEFT JOIN (SELECT courier_id, sum(n) AS delivered,
                  sum(n) FILTER (WHERE mode = 'pickup_point') AS pickup
           FROM pr_cell GROUP BY courier_id) d ON d.courier_id = c.courier_id
LEFT JOIN (SELECT courier_id, sum(postage) AS collected FROM pr_post GROUP BY courier_id) p
       ON p.courier_id = c.courier_id
LEFT JOIN pr_quota q ON q.card = c.card AND q.grade = c.grade
LEFT JOIN pr_card k ON k.card = c.card
-- The bands of a card tile [0, inf) (checked when it is saved): exactly one matches.
LEFT JOIN pr_band b
       ON c.kind = 'own' AND b.card = c.card
      AND (coalesce(p.collected, 0) > b.lower_edge * q.quota
           OR (b.lower_closed AND coalesce(p.collected, 0) = b.lower_edge * q.quota))
      AND (b.upper_edge IS NULL
           OR coalesce(p.collected, 0) < b.upper_edge * q.quota
           OR (b.upper_closed AND coalesce(p.collected, 0) = b.upper_edge * q.quota))
"""

# Every line of every slip, at the position ``payslip.line_positions`` gives it (no sort); then
# the slips, whose totals are summed from the lines as they are inserted (RETURNING).
_CELL_ORDINAL = (
    "((array_position(%(categories)s, {t}.category) - 1) * %(modes_n)s"
    " + array_position(%(modes)s, {t}.mode) - 1) * %(tiers_n)s"
    " + array_position(%(tiers)s, {t}.tier) - 1"
)
_CATEGORY_ORDINAL = "array_position(%(categories)s, {t}.category) - 1"
_LINES_AND_SLIPS = f"""
WITH line AS (
INSERT INTO payroll_pay_line
    (tenant_code, run_id, courier_id, position, kind, category, mode, tier, volume_tier,
     quantity, unit_rate, amount, rate_card_version, contract_term, reason, author)
SELECT * FROM (
    SELECT s.tenant_code, %(run)s, s.courier_id, 0, 'base', NULL, NULL, NULL, NULL,
           1, s.base_pay, round(s.base_pay, 2), s.version, NULL, NULL, NULL
    FROM pr_slip s WHERE s.kind = 'own'
  UNION ALL
    SELECT s.tenant_code, %(run)s, s.courier_id, 1 + {_CELL_ORDINAL.format(t="x")}, 'delivery',
           x.category, x.mode, x.tier, 0, x.n, r.rate * s.multiplier,
           round(x.n * r.rate * s.multiplier, 2), s.version, NULL, NULL, NULL
    FROM pr_cell x
    JOIN pr_slip s ON s.courier_id = x.courier_id AND s.kind = 'own'
    JOIN pr_rate r ON r.card = s.card AND r.category = x.category AND r.mode = x.mode
                  AND r.tier = x.tier
  UNION ALL
    SELECT s.tenant_code, %(run)s, s.courier_id, %(block)s + v.idx, 'volume_tier',
           NULL, NULL, NULL, v.idx, n.items, v.uplift * s.multiplier,
           round(n.items * v.uplift * s.multiplier, 2), s.version, NULL, NULL, NULL
    FROM pr_slip s
    JOIN pr_vtier v ON v.card = s.card
    CROSS JOIN LATERAL (
        SELECT least(s.delivered, coalesce(v.ceiling, s.delivered)) - v.above AS items
    ) n
    WHERE s.kind = 'own' AND n.items > 0
  UNION ALL
    SELECT s.tenant_code, %(run)s, s.courier_id, 2 * %(block)s + {_CATEGORY_ORDINAL.format(t="p")},
           'commission', p.category, NULL, NULL, NULL, p.postage, f.share,
           round(p.postage * f.share, 2), s.version, NULL, NULL, NULL
    FROM pr_post p
    JOIN pr_slip s ON s.courier_id = p.courier_id AND s.kind = 'own'
    JOIN pr_fee f ON f.card = s.card AND f.category = p.category
    WHERE p.postage <> 0
  UNION ALL
    SELECT s.tenant_code, %(run)s, s.courier_id, 3 * %(block)s + {_CATEGORY_ORDINAL.format(t="a")},
           'agent_fee', a.category, 'pickup_point', NULL, NULL, a.items, -f.fee,
           -round(a.items * f.fee, 2), s.version, NULL, NULL, NULL
    FROM (SELECT courier_id, category, sum(n) AS items FROM pr_cell
          WHERE mode = 'pickup_point' GROUP BY courier_id, category) a
    JOIN pr_slip s ON s.courier_id = a.courier_id AND s.kind = 'own'
    JOIN pr_fee f ON f.card = s.card AND f.category = a.category
  UNION ALL
    SELECT s.tenant_code, %(run)s, s.courier_id, 1, 'outsourced', NULL, NULL, NULL, NULL,
           s.delivered, s.unit_price, round(s.delivered * s.unit_price, 2), NULL, s.term_code,
           NULL, NULL
    FROM pr_slip s WHERE s.kind = 'outsourced' AND s.delivered > 0
  UNION ALL
    SELECT s.tenant_code, %(run)s, s.courier_id,
           4 * %(block)s - 1 + row_number() OVER (PARTITION BY t.courier_id ORDER BY t.id),
           'adjustment', NULL, NULL, NULL, NULL, 1, t.amount, round(t.amount, 2), NULL, NULL,
           t.reason, t.author
    FROM payroll_adjustment t JOIN pr_slip s ON s.courier_id = t.courier_id
    WHERE t.month = %(month)s AND {_IN_UNIT}
) lines
ORDER BY 3, 4  -- key order: each line lands at the right edge of the key index
RETURNING courier_id, kind, amount
)
INSERT INTO payroll_payslip
    (tenant_code, run_id, month, courier_id, courier_code, kind, delivered_items,
     pickup_point_items, quota, collected_postage, quota_completion, quota_band,
     quota_multiplier, rate_card_version, agent_fees, total)
SELECT s.tenant_code, %(run)s, %(month)s, s.courier_id, s.courier_code, s.kind, s.delivered,
       s.pickup, s.quota,
       CASE WHEN s.kind = 'own' THEN s.collected END,
       CASE WHEN s.kind = 'own' THEN s.collected / s.quota END,
       s.label, s.multiplier, s.version,
       coalesce(l.agent_fees, 0), coalesce(l.total, 0)
FROM pr_slip s
LEFT JOIN (SELECT courier_id, sum(amount) AS total,
                  -sum(amount) FILTER (WHERE kind = 'agent_fee') AS agent_fees
           FROM line GROUP BY courier_id) l
       ON l.courier_id = s.courier_id
"""


def price_in_database(
    session: Session, *, run_id: int, unit: str, month: int, slated: Sequence[Slated]
) -> None:
    """Write the slips and lines of ``slated`` for run ``run_id`` (its old ones are gone)."""
    cards: dict[int, int] = {}  # id(card) -> number in the temp tables
    card_objects: list[RateCard] = []
    couriers = []
    for courier, card, term in slated:
        number = None
        if card is not None:
            number = cards.setdefault(id(card), len(cards))
            if number == len(card_objects):
                card_objects.append(card)
        couriers.append(
            (
                courier.id,
                courier.code,
                courier.tenant_code,
                courier.kind,
                courier.base_pay,
                courier.grade,
                number,
                term.code if term is not None else None,
                term.unit_price if term is not None else None,
            )
        )
    params = {
        "run": run_id,
        "month": month,
        "unit": unit,
        "below": unit + ".%",
        "categories": SORTED_CATEGORIES,
        "modes": SORTED_MODES,
        "modes_n": len(SORTED_MODES),
        "tiers": SORTED_TIERS,
        "tiers_n": len(SORTED_TIERS),
        "block": BLOCK,
    }
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        for name, columns in _TEMP_TABLES.items():
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
        _copy(cursor, "pr_courier", couriers)
        for table, rows in _card_rows(card_objects).items():
            _copy(cursor, table, rows)
        for name in ("pr_cell", "pr_post", "pr_slip"):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        # Small joins: JIT compilation would cost more than it saves (0.6 s on pr_slip alone);
        # the province's 560,000 lines sort in memory rather than in temporary files.
        saved = cursor.execute(
            "SELECT current_setting('jit'), current_setting('work_mem')"
        ).fetchone()
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("ANALYZE pr_courier")
        cursor.execute(_CELLS, params)
        cursor.execute(_POSTAGE, params)
        cursor.execute("ANALYZE pr_cell")
        cursor.execute(_SLIPS, params)
        cursor.execute(_LINES_AND_SLIPS, params)
        cursor.execute(
            "SELECT set_config('jit', %s, true), set_config('work_mem', %s, true)", saved
        )


def _copy(cursor: Any, table: str, rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _card_rows(cards: list[RateCard]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {
        "pr_card": [],
        "pr_rate": [],
        "pr_fee": [],
        "pr_quota": [],
        "pr_band": [],
        "pr_vtier": [],
    }
    for number, card in enumerate(cards):
        out["pr_card"].append((number, card.version))
        for (category, mode, tier), rate in card.delivery_rates.items():
            out["pr_rate"].append((number, str(category), str(mode), str(tier), rate))
        for category, fee in card.agent_fees.items():
            share = card.commission_rates[category]
            out["pr_fee"].append((number, str(category), fee, share))
        for grade, quota in card.quotas_by_grade.items():
            out["pr_quota"].append((number, grade, quota))
        for band in card.quota_bands:
            out["pr_band"].append(
                (
                    number,
                    band.lower,
                    band.upper,
                    band.lower_closed,
                    band.upper_closed,
                    band.multiplier,
                    band.label,
                )
            )
        tiers = sorted(card.volume_tiers, key=lambda tier: tier.above)
        for index, tier in enumerate(tiers):
            ceiling = tiers[index + 1].above if index + 1 < len(tiers) else None
            out["pr_vtier"].append((number, index + 1, tier.above, ceiling, tier.uplift))
    return out
