"""Set-based pricing on PostgreSQL: the rules of ``payslip.py``, as SQL over the month's tallies.

A province run prices 20,000 couriers into some 560,000 lines. Here the database joins the
tallies with the rate cards in force and writes every slip, its lines inside it, itself; Python
only ships the run's parameters: who is priced with which card or contract term (``_slate``).

The rules are those of ``payslip.price_own_courier`` and ``price_outsourced_courier``, and
the same tests check both paths:

* NUMERIC arithmetic is exact, and ``round(x, 2)`` rounds half away from zero, which is
  Python's ``ROUND_HALF_UP``; each line is rounded on its own, a slip's total is the exact sum
  of its lines;
* a quota band is chosen by comparing collected postage with ``edge x quota`` (no division);
* each line is stored at the position ``payslip.line_positions`` gives it; a slip's lines are
  one array (``PayrollPayslip.lines``), so a province run writes 20,000 rows, not 560,000.

The month's delivery tallies are read once (``_CELLS``): a slip's counts, volume tiers and
delivery lines all come from the same snapshot, even while scans are being ingested, and so do
its collected postage, band and commissions (``_POSTAGE``).

Every statement runs on the caller's transaction, under its scope and row-level security; the
unit was checked against the scope by the run, and each filter names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from .payslip import CATEGORY_CODES, FIRST, cell_position

if TYPE_CHECKING:  # pragma: no cover
    from .payroll_run import Slated
    from .rate_card import RateCard

# Parameters of the run, loaded with COPY into temporary tables dropped at commit.
_TEMP_TABLES = {
    "pr_courier": "courier_id int PRIMARY KEY, courier_code text, tenant_code text, kind text, "
    "base_pay numeric, grade text, card int, term_code text, unit_price numeric",
    "pr_card": "card int PRIMARY KEY, version int",
    "pr_rate": "card int, category text, mode text, tier text, rate numeric, position int, "
    "PRIMARY KEY (card, category, mode, tier)",
    "pr_fee": "card int, category text, fee numeric, share numeric, ordinal int, "
    "PRIMARY KEY (card, category)",
    "pr_quota": "card int, grade text, quota numeric, PRIMARY KEY (card, grade)",
    "pr_band": "card int, lower_edge numeric, upper_edge numeric, lower_closed boolean, "
    "upper_closed boolean, multiplier numeric, label text",
    "pr_vtier": "card int, idx int, above bigint, ceiling bigint, uplift numeric",
}
_DERIVED = ("pr_post", "pr_slip", "pr_cell")
_BLOCKS = ("volume_tier", "commission", "agent_fee", "outsourced", "adjustment")

# Settings for the run's statements, each in force for its statement alone:
# * jit: these are small joins, and compiling them would cost more than it saves;
# * work_mem: the province's 560,000 lines are sorted in memory, not in temporary files;
# * enable_hashagg: a slip's lines are gathered by sorting them by courier, one array at a time,
#   rather than into 20,000 arrays growing at once in a hash table (twice as long, measured);
# * enable_seqscan, for the cells only: the tallies' key starts with the month, so its index
#   gives the month's rows already grouped by courier and cell. The planner, which cannot
#   foresee how many rows the row-level-security filter keeps, would rather sort a full scan.
_SETTINGS = {"jit": "off", "work_mem": "256MB", "enable_hashagg": "off"}

_IN_UNIT = "(t.tenant_code = %(unit)s OR t.tenant_code LIKE %(below)s)"

_POSTAGE = f"""
CREATE TEMP TABLE pr_post ON COMMIT DROP AS
SELECT t.courier_id, t.category, round(sum(t.postage_fen)::numeric / 100, 2) AS postage
FROM payroll_collection_tally t JOIN pr_courier c ON c.courier_id = t.courier_id
WHERE t.month = %(month)s AND {_IN_UNIT}
GROUP BY 1, 2
"""

# One row per slip: collected postage, quota and the band it falls in.
_SLIPS = """
CREATE TEMP TABLE pr_slip ON COMMIT DROP AS
SELECT c.*, q.quota, coalesce(p.collected, 0) AS collected, k.version, b.multiplier, b.label
FROM pr_courier c
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

# The month's items per courier and rate cell. A ``CREATE TABLE AS``, which PostgreSQL may run
# with parallel workers (an ``INSERT`` never is): the one statement that reads the tallies.
_CELLS = f"""
CREATE TEMP TABLE pr_cell ON COMMIT DROP AS
SELECT t.courier_id, t.category, t.mode, t.tier, sum(t.items) AS n
FROM payroll_delivery_tally t
WHERE t.month = %(month)s AND {_IN_UNIT}
GROUP BY 1, 2, 3, 4 HAVING sum(t.items) > 0
"""

# Every slip, with its lines at their positions gathered into one array; the texts some lines
# carry (contract term, adjustment reason and author) go into its notes, keyed by position.
_LINES = f"""
WITH item AS (
    SELECT courier_id, sum(n) AS delivered,
           coalesce(sum(n) FILTER (WHERE mode = 'pickup_point'), 0) AS pickup
    FROM pr_cell GROUP BY courier_id
), adjustment AS (
    SELECT t.courier_id, t.amount, t.reason, t.author,
           %(adjustment)s - 1 + row_number() OVER (PARTITION BY t.courier_id ORDER BY t.id)
               AS position
    FROM payroll_adjustment t JOIN pr_slip s ON s.courier_id = t.courier_id
    WHERE t.month = %(month)s AND {_IN_UNIT}
), line AS (
    SELECT s.courier_id, 'base' AS kind, 0 AS position, 1 AS quantity, s.base_pay AS unit_rate,
           round(s.base_pay, 2) AS amount, s.version
    FROM pr_slip s WHERE s.kind = 'own'
  UNION ALL
    SELECT s.courier_id, 'delivery', r.position, x.n, r.rate * s.multiplier,
           round(x.n * r.rate * s.multiplier, 2), s.version
    FROM pr_cell x
    JOIN pr_slip s ON s.courier_id = x.courier_id AND s.kind = 'own'
    JOIN pr_rate r ON r.card = s.card AND r.category = x.category AND r.mode = x.mode
                  AND r.tier = x.tier
  UNION ALL
    SELECT s.courier_id, 'volume_tier', %(volume_tier)s + v.idx, n.items, v.uplift * s.multiplier,
           round(n.items * v.uplift * s.multiplier, 2), s.version
    FROM pr_slip s
    JOIN item i ON i.courier_id = s.courier_id
    JOIN pr_vtier v ON v.card = s.card
    CROSS JOIN LATERAL (
        SELECT least(i.delivered, coalesce(v.ceiling, i.delivered)) - v.above AS items
    ) n
    WHERE s.kind = 'own' AND n.items > 0
  UNION ALL
    SELECT s.courier_id, 'commission', %(commission)s + f.ordinal, p.postage, f.share,
           round(p.postage * f.share, 2), s.version
    FROM pr_post p
    JOIN pr_slip s ON s.courier_id = p.courier_id AND s.kind = 'own'
    JOIN pr_fee f ON f.card = s.card AND f.category = p.category
    WHERE p.postage <> 0
  UNION ALL
    SELECT s.courier_id, 'agent_fee', %(agent_fee)s + f.ordinal, a.items, -f.fee,
           -round(a.items * f.fee, 2), s.version
    FROM (SELECT courier_id, category, sum(n) AS items FROM pr_cell
          WHERE mode = 'pickup_point' GROUP BY courier_id, category) a
    JOIN pr_slip s ON s.courier_id = a.courier_id AND s.kind = 'own'
    JOIN pr_fee f ON f.card = s.card AND f.category = a.category
  UNION ALL
    SELECT s.courier_id, 'outsourced', %(outsourced)s, i.delivered, s.unit_price,
           round(i.delivered * s.unit_price, 2), NULL
    FROM pr_slip s JOIN item i ON i.courier_id = s.courier_id
    WHERE s.kind = 'outsourced'
  UNION ALL
    SELECT courier_id, 'adjustment', position, 1, amount, round(amount, 2), NULL
    FROM adjustment
), note AS (
    SELECT s.courier_id, %(outsourced)s AS position,
           json_build_object('contract_term', s.term_code) AS note
    FROM pr_slip s JOIN item i ON i.courier_id = s.courier_id
    WHERE s.kind = 'outsourced'
  UNION ALL
    SELECT courier_id, position, json_build_object('reason', reason, 'author', author)
    FROM adjustment
)
"""

_INSERT_SLIPS = (
    _LINES
    + """INSERT INTO payroll_payslip
    (tenant_code, run_id, month, courier_id, courier_code, kind, delivered_items,
     pickup_point_items, quota, collected_postage, quota_completion, quota_band,
     quota_multiplier, rate_card_version, agent_fees, total, lines, line_notes)
SELECT s.tenant_code, %(run)s, %(month)s, s.courier_id, s.courier_code, s.kind,
       coalesce(i.delivered, 0), coalesce(i.pickup, 0), s.quota,
       CASE WHEN s.kind = 'own' THEN s.collected END,
       CASE WHEN s.kind = 'own' THEN s.collected / s.quota END,
       s.label, s.multiplier, s.version, coalesce(l.agent_fees, 0), coalesce(l.total, 0),
       coalesce(l.lines, '{}'), n.notes
FROM pr_slip s
LEFT JOIN item i ON i.courier_id = s.courier_id
LEFT JOIN (
    SELECT courier_id,
           array_agg(ARRAY[position, quantity, unit_rate, amount, version]) AS lines,
           sum(amount) AS total, -sum(amount) FILTER (WHERE kind = 'agent_fee') AS agent_fees
    FROM line GROUP BY courier_id
) l ON l.courier_id = s.courier_id
LEFT JOIN (
    SELECT courier_id, json_object_agg(position, note) AS notes FROM note GROUP BY courier_id
) n ON n.courier_id = s.courier_id
"""
)


_SHARES = (
    "pension",
    "medical",
    "unemployment",
    "housing_fund",
    "employer_pension",
    "employer_medical",
    "employer_unemployment",
    "employer_housing_fund",
)
# The rates in force at each station of the run (``net.rates_by_station``).
_NET_RATES = (
    "station text PRIMARY KEY, "
    + ", ".join(f"{name} numeric" for name in _SHARES)
    + ", base_floor numeric, base_ceiling numeric"
)


# The year's earlier months of the run's couriers, one row per courier who has any slip this
# year: the cumulative inputs of this month's withholding (own-staff months only), and
# ``unfit`` where they do not follow as ``net.compute_net`` reads them (a slip stored before
# net pay existed, another run's slip of the same courier this month, two slips in one month):
# then the run leaves the net figures to ``compute_net``. Each month withholds
# ``max(cumulative tax - withheld, 0)``, so what the earlier months withheld is the highest
# cumulative tax among them. Run with nested loops off: under row-level security the planner
# expects a few hundred of the year's slips and would loop over 20,000 couriers for each.
def _prior_sql() -> str:
    from .net import BASIC_DEDUCTION_SQL as basic
    from .net import annual_tax_sql

    return f"""
CREATE TEMP TABLE pr_prior ON COMMIT DROP AS
WITH year_slip AS (
    SELECT p.courier_id, p.month, p.id, p.kind, p.net_pay, p.total,
           p.pension + p.medical + p.unemployment + p.housing_fund AS employee,
           coalesce(p.special_deduction, 0) AS special
    FROM payroll_payslip p JOIN pr_slip s ON s.courier_id = p.courier_id
    WHERE p.month >= %(year_first)s AND p.month <= %(month)s
), running AS (
    SELECT courier_id, total, employee, special,
           greatest(sum(total) OVER w - {basic} * row_number() OVER w - sum(employee) OVER w
                    - sum(special) OVER w, 0) AS taxable
    FROM year_slip
    WHERE kind = 'own' AND month < %(month)s
    WINDOW w AS (PARTITION BY courier_id ORDER BY month, id ROWS UNBOUNDED PRECEDING)
)
SELECT y.courier_id, y.unfit, r.months, r.gross, r.employee, r.special, r.withheld
FROM (
    SELECT courier_id,
           bool_or(net_pay IS NULL) OR bool_or(month = %(month)s)
               OR count(*) <> count(DISTINCT month) AS unfit
    FROM year_slip GROUP BY courier_id
) y
LEFT JOIN (
    SELECT courier_id, count(*) AS months, sum(total) AS gross, sum(employee) AS employee,
           sum(special) AS special, max({annual_tax_sql("round(taxable, 2)")}) AS withheld
    FROM running GROUP BY courier_id
) r ON r.courier_id = y.courier_id
"""


def _insert_slips_with_net() -> str:
    """``_INSERT_SLIPS`` that also writes each slip's net figures by the rules of
    ``net_pay.py``, as ``net.compute_net`` applies them to a run's month:

    * deductions: the base is the gross clamped between the station's floor and ceiling, each
      share of it rounded to the fen; none for outsourced couriers or without rates in force;
    * the year's earlier own-staff months (``pr_prior``, ``_prior_sql``) give the cumulative
      gross, employee deductions and special deductions, their count, and the tax already
      withheld;
    * this month: cumulative taxable, its tax by the annual table, the withholding, net pay.
    NUMERIC arithmetic is exact and every amount rounded is positive, where ``round`` is
    ``ROUND_HALF_UP``.
    """
    from .net import BASIC_DEDUCTION_SQL as basic
    from .net import annual_tax_sql

    shares = "\n".join(
        f"       coalesce(round(b.base * r.{name}, 2), 0) AS {name}," for name in _SHARES
    )
    return (
        _LINES
        + """INSERT INTO payroll_payslip
    (tenant_code, run_id, month, courier_id, courier_code, kind, delivered_items,
     pickup_point_items, quota, collected_postage, quota_completion, quota_band,
     quota_multiplier, rate_card_version, agent_fees, total, lines, line_notes,
     contribution_base, pension, medical, unemployment, housing_fund, employer_costs,
     special_deduction, ytd_taxable, ytd_tax, income_tax, net_pay)
SELECT s.tenant_code, %(run)s, %(month)s, s.courier_id, s.courier_code, s.kind,
       coalesce(i.delivered, 0), coalesce(i.pickup, 0), s.quota,
       CASE WHEN s.kind = 'own' THEN s.collected END,
       CASE WHEN s.kind = 'own' THEN s.collected / s.quota END,
       s.label, s.multiplier, s.version, coalesce(l.agent_fees, 0), g.gross,
       coalesce(l.lines, '{}'), n.notes,
       d.base, d.pension, d.medical, d.unemployment, d.housing_fund, d.employer,
       t.special, t.taxable, t.cumulative, t.tax, g.gross - d.employee - t.tax
FROM pr_slip s
LEFT JOIN item i ON i.courier_id = s.courier_id
LEFT JOIN (
    SELECT courier_id,
           array_agg(ARRAY[position, quantity, unit_rate, amount, version]) AS lines,
           sum(amount) AS total, -sum(amount) FILTER (WHERE kind = 'agent_fee') AS agent_fees
    FROM line GROUP BY courier_id
) l ON l.courier_id = s.courier_id
LEFT JOIN (
    SELECT courier_id, json_object_agg(position, note) AS notes FROM note GROUP BY courier_id
) n ON n.courier_id = s.courier_id
LEFT JOIN pr_net_rate r ON s.kind = 'own' AND r.station = s.tenant_code
LEFT JOIN payroll_courier k ON k.id = s.courier_id
LEFT JOIN pr_prior p ON p.courier_id = s.courier_id
CROSS JOIN LATERAL (SELECT coalesce(l.total, 0) AS gross) g
CROSS JOIN LATERAL (
    -- (greatest and least skip nulls: no rates, no base)
    SELECT CASE WHEN r.station IS NOT NULL
                THEN round(least(greatest(g.gross, r.base_floor), r.base_ceiling), 2) END AS base
) b
CROSS JOIN LATERAL (
    SELECT coalesce(b.base, 0) AS base,
"""
        + shares
        + """
       CASE WHEN s.kind = 'own' THEN coalesce(k.special_deduction, 0) ELSE 0 END AS special
) b2
CROSS JOIN LATERAL (
    SELECT b2.base, b2.pension, b2.medical, b2.unemployment, b2.housing_fund,
           b2.employer_pension + b2.employer_medical + b2.employer_unemployment
               + b2.employer_housing_fund AS employer,
           b2.pension + b2.medical + b2.unemployment + b2.housing_fund AS employee
) d
CROSS JOIN LATERAL (
    SELECT round(greatest(coalesce(p.gross, 0) + g.gross
                          - """
        + basic
        + """ * (coalesce(p.months, 0) + 1)
                          - coalesce(p.employee, 0) - d.employee
                          - coalesce(p.special, 0) - b2.special, 0), 2) AS taxable
) x
CROSS JOIN LATERAL (SELECT """
        + annual_tax_sql("x.taxable")
        + """ AS cumulative) y
CROSS JOIN LATERAL (
    SELECT b2.special,
           CASE WHEN s.kind = 'own' THEN x.taxable ELSE 0 END AS taxable,
           CASE WHEN s.kind = 'own' THEN y.cumulative ELSE 0 END AS cumulative,
           CASE WHEN s.kind = 'own' THEN greatest(y.cumulative - coalesce(p.withheld, 0), 0)
                ELSE 0 END AS tax
) t
"""
    )


def price_in_database(
    session: Session,
    *,
    run_id: int,
    unit: str,
    month: int,
    slated: Sequence[Slated],
    progress: Callable[[int, int, str], None] | None = None,
    net_rates: Sequence[tuple] | None = None,
) -> bool:
    """Write the slips and lines of ``slated`` for run ``run_id`` (its old ones are gone).

    ``progress(done, total, message)`` hears of each stage (a job's progress bar, and its
    chance to honour a cancellation) in slips out of ``len(slated)``.

    With ``net_rates`` (``net.rates_by_station``) the same statement also writes each slip's
    net figures where they follow from the year's earlier slips (``_prior_sql``), and
    returns True; False means the caller computes them (``net.compute_net``).
    """
    report = progress or (lambda done, total, message: None)
    total = len(slated)
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
        "below": unit + ".%",  # unit codes hold no LIKE wildcards (tenancy.CODE_RE)
        "year_first": month // 100 * 100 + 1,
        # first positions of the line kinds (``payslip.FIRST``)
        **{kind: FIRST[kind] for kind in _BLOCKS},
    }
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        for name, columns in _TEMP_TABLES.items():
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
        _copy(cursor, "pr_courier", couriers)
        for table, rows in _card_rows(card_objects).items():
            _copy(cursor, table, rows)
        for name in _DERIVED:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute("ANALYZE pr_courier")
        _execute(cursor, _POSTAGE, params)
        _execute(cursor, _SLIPS, params)
        report(total // 4, total, "reading the month's tallies")
        _execute(cursor, _CELLS, params, enable_seqscan="off")
        # Estimates for the pricing statement's joins: without them it hashes the wrong side.
        for name in _DERIVED:
            cursor.execute(f"ANALYZE {name}")
        with_net = False
        if net_rates is not None:
            cursor.execute("DROP TABLE IF EXISTS pr_net_rate")
            cursor.execute("DROP TABLE IF EXISTS pr_prior")
            cursor.execute(f"CREATE TEMP TABLE pr_net_rate ({_NET_RATES}) ON COMMIT DROP")
            _copy(cursor, "pr_net_rate", list(net_rates))
            _execute(cursor, _PRIOR, params, enable_nestloop="off")
            cursor.execute("ANALYZE pr_prior")
            with_net = not cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pr_prior WHERE unfit)"
            ).fetchone()[0]
        report(total // 2, total, f"pricing and writing {total} payslips")
        _execute(cursor, _INSERT_SLIPS_NET if with_net else _INSERT_SLIPS, params)
        report(total, total, f"{total} payslips written")
    return with_net


_INSERT_SLIPS_NET = _insert_slips_with_net()
_PRIOR = _prior_sql()


def _execute(cursor: Any, statement: str, params: dict, **settings: str) -> None:
    """Run ``statement`` with ``_SETTINGS`` and ``settings`` in force for it alone."""
    settings = _SETTINGS | settings
    names = ", ".join(f"current_setting('{name}')" for name in settings)
    saved = cursor.execute(f"SELECT {names}").fetchone()
    change = ", ".join(f"set_config('{name}', %s, true)" for name in settings)
    cursor.execute(f"SELECT {change}", list(settings.values()))
    cursor.execute(statement, params)
    # Not on failure: the transaction is then aborted, and rolling back undoes local settings.
    cursor.execute(f"SELECT {change}", saved)


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
            position = cell_position(category, mode, tier)
            out["pr_rate"].append((number, str(category), str(mode), str(tier), rate, position))
        for category, fee in card.agent_fees.items():
            share = card.commission_rates[category]
            ordinal = CATEGORY_CODES.index(category)
            out["pr_fee"].append((number, str(category), fee, share, ordinal))
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
