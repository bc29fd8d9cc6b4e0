"""XLSX exports: a run's payslips with their lines, and the cost summary.

Amounts, rates and ratios are numeric cells with a number format (``FORMATS``), never text."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
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


# Money and rates are numeric cells with a number format, so a spreadsheet sums and sorts them.
# The value is the Decimal itself: openpyxl writes its exact digits (no binary float on the way).
MONEY = "#,##0.00"
RATE = "0.00####"  # per-item rates and multipliers: 0.585, 1.10
RATIO = "0.0000"  # quota completion and per-item costs, four places
COUNT = "0"
FORMATS = {
    "quota": MONEY,
    "collected_postage": MONEY,
    "agent_fees": MONEY,
    "total": MONEY,
    "amount": MONEY,
    "own_cost": MONEY,
    "outsourced_cost": MONEY,
    "cost": MONEY,
    "unit_rate": RATE,
    "quota_multiplier": RATE,
    "quota_completion": RATIO,
    "cost_per_item": RATIO,
    "own_cost_per_item": RATIO,
    "outsourced_unit_price": RATIO,
}


def _row(sheet: Any, columns: list[str], values: Any) -> list[Any]:
    """Cells of one row: numbers stay numbers, formatted by their column."""
    cells = []
    for column, value in zip(columns, values, strict=True):
        if isinstance(value, Decimal):
            cell = WriteOnlyCell(sheet, value=value)
            fmt = FORMATS.get(column)
            if fmt is None:  # a quantity: items, or postage on a commission line
                fmt = COUNT if value == value.to_integral_value() else MONEY
            cell.number_format = fmt
            cells.append(cell)
        elif value is None or isinstance(value, int | str):
            cells.append(value)
        else:
            cells.append(str(value))
    return cells


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
            _row(
                slips,
                SLIP_COLUMNS,
                (
                    slip.courier_code,
                    slip.tenant_code,
                    *(getattr(slip, name) for name in STORED_SLIP_COLUMNS[4:]),
                ),
            )
        )
        for line in payslip_lines(slip):
            lines.append(_row(lines, LINE_COLUMNS, (slip.courier_code, *line)))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def cost_summary_xlsx(rows: list[dict[str, Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("cost_summary")
    sheet.append(COST_COLUMNS)
    for row in rows:
        sheet.append(_row(sheet, COST_COLUMNS, [row.get(column) for column in COST_COLUMNS]))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
