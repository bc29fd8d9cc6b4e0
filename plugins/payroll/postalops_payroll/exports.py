"""XLSX exports: a run's payslips with their lines, and the cost summary."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from sqlmodel import Session, select

from .models import PayrollPayslip, PayrollRun
from .payroll_run import SLIP_COLUMNS as STORED_SLIP_COLUMNS
from .payroll_run import SlipLine, payslip_lines

# A slip as stored after its courier's code and station (the month is the run's).
SLIP_COLUMNS = ["courier", "station", *STORED_SLIP_COLUMNS[4:]]
# A line as the slip shows it, after its courier's code.
LINE_COLUMNS = ["courier", *SlipLine._fields]
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
    lines = book.create_sheet("lines")
    lines.append(LINE_COLUMNS)
    for slip in session.exec(
        select(PayrollPayslip)
        .where(PayrollPayslip.run_id == run.id)
        .order_by(PayrollPayslip.courier_code)
        .execution_options(yield_per=500)
    ):
        slips.append(
            [
                _cell(v)
                for v in (
                    slip.courier_code,
                    slip.tenant_code,
                    *(getattr(slip, name) for name in STORED_SLIP_COLUMNS[4:]),
                )
            ]
        )
        for line in payslip_lines(slip):
            lines.append([_cell(v) for v in (slip.courier_code, *line)])
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
