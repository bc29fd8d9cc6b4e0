"""XLSX exports: a run's payslips with their lines, and the cost summary.

Amounts, rates and ratios are numeric cells with a number format (``FORMATS``), never text.
Sheets and headers are Chinese first: a header reads ``应发合计 total``, the Chinese label
then the column's stable key (what scripts match on), so a reader and a machine both find it."""

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

# A slip as stored after its courier's code and station (the month is the run's), then its
# way from gross (``total``) to net.
NET_COLUMNS = [
    "contribution_base",
    "pension",
    "medical",
    "unemployment",
    "housing_fund",
    "special_deduction",
    "ytd_taxable",
    "ytd_tax",
    "income_tax",
    "net_pay",
    "employer_costs",
]
SLIP_COLUMNS = ["courier", "station", *STORED_SLIP_COLUMNS[4:], *NET_COLUMNS]
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


SHEETS = {"payslips": "工资条", "lines": "工资明细", "cost_summary": "成本汇总"}
HEADERS = {
    "courier": "投递员工号",
    "station": "网点",
    "kind": "人员类别",
    "delivered_items": "投递量（件）",
    "pickup_point_items": "自提点投递量（件）",
    "quota": "揽收定额",
    "collected_postage": "揽收邮资",
    "quota_completion": "定额完成率",
    "quota_band": "完成率档位",
    "quota_multiplier": "系数",
    "rate_card_version": "计件标准版本",
    "agent_fees": "自提点代投费",
    "total": "应发合计",
    "contribution_base": "缴费基数",
    "pension": "养老保险（个人）",
    "medical": "医疗保险（个人）",
    "unemployment": "失业保险（个人）",
    "housing_fund": "住房公积金（个人）",
    "special_deduction": "专项附加扣除",
    "ytd_taxable": "累计应纳税所得额",
    "ytd_tax": "累计应纳税额",
    "income_tax": "本月预扣个税",
    "net_pay": "实发工资",
    "employer_costs": "单位社保公积金",
    "position": "序号",
    "category": "邮件类别",
    "mode": "投递方式",
    "tier": "区域",
    "volume_tier": "超量档",
    "quantity": "数量",
    "unit_rate": "单价",
    "amount": "金额",
    "contract_term": "外包合同期",
    "reason": "原因",
    "author": "录入人",
    "city": "城市",
    "month": "月份",
    "own_items": "自有投递量（件）",
    "own_cost": "自有人员成本",
    "outsourced_items": "外包投递量（件）",
    "outsourced_cost": "外包成本",
    "items": "投递量（件）",
    "cost": "总成本",
    "cost_per_item": "单件成本",
    "own_cost_per_item": "自有单件成本",
    "outsourced_unit_price": "外包综合单价",
}


def header(columns: list[str]) -> list[str]:
    """The header row: Chinese label, then the column's key."""
    return [f"{HEADERS.get(column, column)} {column}" for column in columns]


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
    **dict.fromkeys(NET_COLUMNS, MONEY),
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
    """Sheet 工资条 (one row per courier, gross to net) and sheet 工资明细 (every line), streamed."""
    book = Workbook(write_only=True)
    slips = book.create_sheet(SHEETS["payslips"])
    slips.append(header(SLIP_COLUMNS))
    lines = book.create_sheet(SHEETS["lines"])
    lines.append(header(LINE_COLUMNS))
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
                    *(getattr(slip, name) for name in NET_COLUMNS),
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
    sheet = book.create_sheet(SHEETS["cost_summary"])
    sheet.append(header(COST_COLUMNS))
    for row in rows:
        sheet.append(_row(sheet, COST_COLUMNS, [row.get(column) for column in COST_COLUMNS]))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
