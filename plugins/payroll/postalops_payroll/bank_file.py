"""The bank payment file (代发工资) of an approved month: one row per payee with the account,
the name and the net amount, as CSV and XLSX in the layout documented in the README.

Payees are the run's own-staff couriers with a positive net pay; outsourced couriers are paid
by their contractor and are not in the file. A payee without a bank account blocks the whole
file (422 ``missing_bank_account``, each one named), since a file missing a row is a courier
left unpaid. The first file produced records the payment date (``run.paid_on``, the local
date), which dates the payment voucher of the journal; producing it again gives the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any, NamedTuple

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from postalops import audit, clock
from postalops.errors import Conflict, ValidationError
from sqlmodel import Session, select

from .models import PayrollCourier, PayrollPayslip, PayrollRun
from .period import Month

# The documented layout: column key, header (zh / en).
COLUMNS = (
    ("seq", "序号 No."),
    ("account", "收款账号 Account"),
    ("name", "收款户名 Name"),
    ("amount", "金额 Amount"),
    ("bank", "开户行 Bank"),
    ("courier", "工号 Employee no."),
    ("memo", "用途 Purpose"),
)


class Payee(NamedTuple):
    seq: int
    account: str
    name: str
    amount: Decimal
    bank: str
    courier: str
    memo: str


def payees(session: Session, run: PayrollRun) -> list[Payee]:
    """The file's rows, by employee number; 409 unless approved, 422 naming every payee
    without an account."""
    month = Month(run.month // 100, run.month % 100)
    if run.status != "approved":
        raise Conflict(
            f"{run.tenant_code} {month} is {run.status}; the bank file is for an approved month",
            code="run_not_approved",
            details=[{"field": "month", "message": "not approved", "value": str(month)}],
        )
    rows = session.exec(
        select(PayrollPayslip, PayrollCourier)
        .join(PayrollCourier, PayrollCourier.id == PayrollPayslip.courier_id)
        .where(PayrollPayslip.run_id == run.id, PayrollPayslip.kind == "own")
        .order_by(PayrollPayslip.courier_code)
    ).all()
    memo = f"{month.year}年{month.month}月工资"
    out, missing = [], []
    for slip, courier in rows:
        if slip.net_pay is None or slip.net_pay <= 0:
            continue
        if not courier.bank_account:
            missing.append(
                {
                    "field": "bank_account",
                    "courier": courier.code,
                    "name": courier.name,
                    "message": f"{courier.name} ({courier.code}) has no bank account",
                }
            )
            continue
        out.append(
            Payee(
                len(out) + 1,
                courier.bank_account,
                courier.name,
                slip.net_pay,
                courier.bank_name or "",
                courier.code,
                memo,
            )
        )
    if missing:
        names = "、".join(f"{m['name']}({m['courier']})" for m in missing)
        raise ValidationError(
            f"{len(missing)} payee(s) without a bank account: {names}; no file was produced",
            code="missing_bank_account",
            details=missing,
        )
    return out


def record_payment(
    session: Session, run: PayrollRun, rows: list[Payee], actor: str, on: dt.date | None = None
) -> None:
    """The first file dates the payment (audited; today, or ``on`` for the demo's history);
    later ones change nothing."""
    if run.paid_on is not None:
        return
    run.paid_on = on or clock.today()
    session.add(run)
    audit.record(
        "payroll.bank_file",
        target_type="payroll_run",
        target_id=f"{run.tenant_code}#{Month(run.month // 100, run.month % 100)}",
        tenant=run.tenant_code,
        after={
            "paid_on": str(run.paid_on),
            "payees": len(rows),
            "amount": str(sum((r.amount for r in rows), Decimal("0.00"))),
        },
        session=session,
        actor=actor,
    )
    session.flush()


def bank_csv(rows: list[Payee]) -> bytes:
    """UTF-8 with a byte-order mark (Excel and bank portals read the Chinese), comma-separated,
    a header row, amounts as plain numbers with two decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for _, header in COLUMNS])
    for row in rows:
        writer.writerow([row.seq, row.account, row.name, f"{row.amount:.2f}", *row[4:]])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def bank_xlsx(rows: list[Payee]) -> bytes:
    """Sheet 代发工资: the same columns; the amount a numeric cell (``#,##0.00``), the account
    text (a 19-digit card number is not a number)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("代发工资")
    sheet.append([header for _, header in COLUMNS])
    for row in rows:
        amount: Any = WriteOnlyCell(sheet, value=row.amount)
        amount.number_format = "#,##0.00"
        sheet.append([row.seq, row.account, row.name, amount, *row[4:]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
