"""payroll: a payslip stores its lines; the pay-line table goes; tallies keyed month first

Revision ID: payroll_0003
Revises: payroll_0002
Create Date: 2026-11-27

A province run wrote 560,000 pay-line rows, and writing them was most of the run. Each slip now
keeps its lines as one array of numbers (position, quantity, unit rate, amount, rate-card
version; ``models.PayLines``) and the texts some lines carry in ``line_notes``. The lines of
every existing slip, approved months included, are moved into it; a downgrade moves them back.

The tallies are re-keyed month first, so a run reads its month's rows in key order, grouped by
courier and cell without hashing or sorting.
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import postalops_payroll.models
from postalops_payroll.migration_tables import TALLY_KEYS, line_table, rebuild, tally_columns
from postalops_payroll.payslip import line_identity

revision = "payroll_0003"
down_revision = "payroll_0002"
branch_labels = None
depends_on = None

TEXTS = ("contract_term", "reason", "author")


def _slip_table() -> sa.Table:
    return sa.Table(
        "payroll_payslip",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_code", sa.String(200)),
        sa.Column("run_id", sa.Integer()),
        sa.Column("courier_id", sa.Integer()),
        sa.Column("kind", sa.String(12)),
        sa.Column("lines", postalops_payroll.models.PayLines()),
        sa.Column("line_notes", sa.JSON()),
    )


def _month_first(key: list[str]) -> list[str]:
    return ["month", "courier_id", *key[2:]]


def upgrade() -> None:
    for name, key in TALLY_KEYS.items():
        rebuild(name, tally_columns(name), _month_first(key))
    with op.batch_alter_table("payroll_payslip", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lines", postalops_payroll.models.PayLines(), nullable=True)
        )
        batch_op.add_column(sa.Column("line_notes", sa.JSON(), nullable=True))
        # uq_payroll_payslip (run_id, courier_id) serves reads by run.
        batch_op.drop_index("ix_payroll_payslip_run_id")
    bind = op.get_bind()
    lines, slips = line_table(), _slip_table()
    stored: dict[tuple[int, int], list] = defaultdict(list)
    notes: dict[tuple[int, int], dict] = defaultdict(dict)
    for row in bind.execute(sa.select(lines).order_by(lines.c.run_id, lines.c.courier_id)):
        key = (row.run_id, row.courier_id)
        stored[key].append(
            (row.position, row.quantity, row.unit_rate, row.amount, row.rate_card_version)
        )
        texts = {name: getattr(row, name) for name in TEXTS if getattr(row, name) is not None}
        if texts:
            notes[key][str(row.position)] = texts
    keys = bind.execute(sa.select(slips.c.run_id, slips.c.courier_id)).all()
    if keys:
        bind.execute(
            sa.update(slips)
            .where(slips.c.run_id == sa.bindparam("r"), slips.c.courier_id == sa.bindparam("c"))
            .values(lines=sa.bindparam("l"), line_notes=sa.bindparam("n")),
            [
                {"r": run_id, "c": courier_id, "l": sorted(stored.get((run_id, courier_id), [])),
                 "n": notes.get((run_id, courier_id))}
                for run_id, courier_id in keys
            ],
        )
    with op.batch_alter_table("payroll_payslip", schema=None) as batch_op:
        batch_op.alter_column(
            "lines", existing_type=postalops_payroll.models.PayLines(), nullable=False
        )
    op.drop_table("payroll_pay_line")


def downgrade() -> None:
    lines = line_table()
    lines.create(op.get_bind())
    slips = _slip_table()
    bind = op.get_bind()
    rows = []
    for slip in bind.execute(sa.select(slips)):
        texts = slip.line_notes or {}
        for position, quantity, unit_rate, amount, version in slip.lines:
            identity = line_identity(position, slip.kind)
            note = texts.get(str(position), {})
            rows.append(
                {
                    "tenant_code": slip.tenant_code,
                    "run_id": slip.run_id,
                    "courier_id": slip.courier_id,
                    "position": position,
                    **identity._asdict(),
                    "quantity": quantity,
                    "unit_rate": unit_rate,
                    "amount": amount,
                    "rate_card_version": version,
                    **{name: note.get(name) for name in TEXTS},
                }
            )
    if rows:
        bind.execute(sa.insert(lines), rows)
    with op.batch_alter_table("payroll_payslip", schema=None) as batch_op:
        batch_op.drop_column("line_notes")
        batch_op.drop_column("lines")
        batch_op.create_index("ix_payroll_payslip_run_id", ["run_id"], unique=False)
    for name, key in TALLY_KEYS.items():
        rebuild(name, tally_columns(name), key)
