"""XLSX exports: a run's payslips with their lines, and the cost summary."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from sqlmodel import Session, select

from .models import PayrollPayLine, PayrollPayslip, PayrollRun

SLIP_COLUMNS = [
    "courier",
    "station",
    "kind",
    "delivered_items",
    "pickup_point_items",
    "quota",
    "collected_postage",
    "quota_completion",
    "quota_band",
    "quota_multiplier",
    "rate_card_version",
    "agent_fees",
    "total",
]
LINE_COLUMNS = [
    "courier",
    "position",
    "kind",
    "category",
    "mode",
    "tier",
    "volume_tier",
    "quantity",
    "unit_rate",
    "amount",
    "rate_card_version",
    "contract_term",
    "reason",
    "author",
]
COST_COLUMNS = [
    "city",
    "month",
    "own_items",
    "own_cost",
    "outsourced_items",
    "outsourced_cost",
    "items",
    "cost",
    "cost_per_item",
    "own_cost_per_item",
    "outsourced_unit_price",
]


def _cell(value: Any) -> Any:
    # Money stays exact: written as text with its two decimals rather than a binary float.
    return None if value is None else (value if isinstance(value, int | str) else str(value))


def payslips_xlsx(session: Session, run: PayrollRun) -> bytes:
    """Sheet 'payslips' (one row per courier) and sheet 'lines' (every line), streamed."""
    book = Workbook(write_only=True)
    slips = book.create_sheet("payslips")
    slips.append(SLIP_COLUMNS)
    codes: dict[int, str] = {}
    for slip in session.exec(
        select(PayrollPayslip)
        .where(PayrollPayslip.run_id == run.id)
        .order_by(PayrollPayslip.courier_code)
    ):
        codes[slip.courier_id] = slip.courier_code
        slips.append(
            [
                _cell(v)
                for v in (
                    slip.courier_code,
                    slip.tenant_code,
                    slip.kind,
                    slip.delivered_items,
                    slip.pickup_point_items,
                    slip.quota,
                    slip.collected_postage,
                    slip.quota_completion,
                    slip.quota_band,
                    slip.quota_multiplier,
                    slip.rate_card_version,
                    slip.agent_fees,
                    slip.total,
                )
            ]
        )
    lines = book.create_sheet("lines")
    lines.append(LINE_COLUMNS)
    statement = (
        select(PayrollPayLine)
        .where(PayrollPayLine.run_id == run.id)
        .order_by(PayrollPayLine.courier_id, PayrollPayLine.position)
    )
    for line in session.exec(statement):
        lines.append(
            [
                _cell(v)
                for v in (
                    codes.get(line.courier_id),
                    line.position,
                    line.kind,
                    line.category,
                    line.mode,
                    line.tier,
                    line.volume_tier,
                    line.quantity,
                    line.unit_rate,
                    line.amount,
                    line.rate_card_version,
                    line.contract_term,
                    line.reason,
                    line.author,
                )
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def cost_summary_xlsx(rows: list[dict[str, Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("cost_summary")
    sheet.append(COST_COLUMNS)
    for row in rows:
        sheet.append([_cell(row.get(column)) for column in COST_COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
