"""Each pickup point's agent fee (代办费) for a month, on the database, and its journal lines.

A point is paid its agreed fee per item it handed over (``agent_fee.py``: the agreement and
``fees_due``). The items of a month come from two sources, counted per point and day:

- ``pickup_points``: the point's own items picked up by their recipients (``PickupItem`` with a
  pickup day in the month), when the plugin records them;
- every plugin answering ``postalops_picked_up_items`` through the core
  (``postalops.plugins.picked_up_items``): ecommerce's group-buy orders verified (核销) at the
  point, one item per order. Where such a plugin is off (or failed, or is not installed) the fee
  counts what pickup_points knows, and ``sources``/``notes`` say so.

The agreement in force is the point's ``agent_fee`` from ``agent_fee_from`` (its opening day
when unset); items handed over before it, or at a point without one (the company's own points),
earn nothing and are shown as ``items_without_agreement``. A reported item whose point code is
not a point of the tenant's subtree is listed under ``unmatched`` and earns nothing.

The month's fees are accrued on its last day: one voucher per city, Dr 销售费用
(``selling_expenses``) the city's total / Cr 其他应付款 (``other_payable``) each point's fee,
reference ``pickup_points:agent_fee:<YYYY-MM>:<city>``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.errors import ValidationError
from postalops.journal import JournalLine
from postalops.money import ZERO, sum_lines
from postalops.plugins import picked_up_items
from sqlmodel import Session, select

from .agent_fee import AgentFeeAgreement, fees_due
from .models import PickupItem, PickupPoint

OWN = "pickup_points"
"""The source key of the point's own handed-over items."""


def month_span(month: str | None, field_name: str = "month") -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` -> its first and last day; 422 naming ``field_name`` otherwise."""
    try:
        year, mon = (int(p) for p in str(month or "").split("-"))
        if not (1900 < year < 3000 and len(str(month)) == 7):
            raise ValueError
        first = dt.date(year, mon, 1)
    except ValueError:
        raise ValidationError(
            f"{field_name} is a month, YYYY-MM",
            code="invalid_month",
            details=[{"field": f"query.{field_name}", "message": "a month, YYYY-MM"}],
        ) from None
    return first, first.replace(day=calendar.monthrange(year, mon)[1])


@dataclass
class PointFee:
    """One point's month: items per source, what earned a fee, and the fee."""

    point_id: int
    code: str
    name: str
    unit: str
    fee_per_item: Decimal | None
    agreement_from: dt.date | None
    items: dict[str, int] = field(default_factory=dict)
    items_with_agreement: int = 0
    items_without_agreement: int = 0
    fee: Decimal = ZERO

    @property
    def items_total(self) -> int:
        return sum(self.items.values())


@dataclass
class MonthFees:
    month: str
    date_from: dt.date
    date_to: dt.date
    points: list[PointFee]
    sources: dict[str, str]
    unmatched: list[dict[str, Any]]
    source_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # key: (zh, en)

    @property
    def fee_total(self) -> Decimal:
        return sum_lines(p.fee for p in self.points)

    def items_by_source(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.points:
            for src, n in p.items.items():
                out[src] += n
        return dict(sorted(out.items()))


def _within(a: str, b: str) -> bool:
    """One unit holds the other (an order's branch below its point's city, or the reverse)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def month_fees(session: Session, tenant: str, month: str, *, registry: Any = None) -> MonthFees:
    """The agent fee of every point of ``tenant``'s subtree for ``month`` (``YYYY-MM``): each
    point with an agreement or with items handed over in the month."""
    first, last = month_span(month)
    points = session.exec(
        select(PickupPoint)
        .where(in_scope_clause(PickupPoint.tenant_code, tenant))
        .order_by(PickupPoint.code, PickupPoint.id)
    ).all()
    by_code: dict[str, list[PickupPoint]] = defaultdict(list)
    for p in points:
        by_code[p.code].append(p)
    daily: dict[int, dict[dt.date, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    own = session.exec(
        select(PickupItem.point_id, PickupItem.picked_up_day, sa.func.count())
        .where(
            in_scope_clause(PickupItem.tenant_code, tenant),
            PickupItem.picked_up_day.between(first, last),  # type: ignore[union-attr]
        )
        .group_by(PickupItem.point_id, PickupItem.picked_up_day)
    ).all()
    for point_id, day, n in own:
        daily[point_id][day][OWN] += int(n)
    found = picked_up_items(session, tenant, first, last, registry=registry)
    unmatched: list[dict[str, Any]] = []
    for source, rows in sorted(found.rows.items()):
        for row in rows:
            match = [
                p
                for p in by_code.get(row["pickup_point"], [])
                if _within(p.tenant_code, row["unit"])
            ]
            if len(match) != 1 or source == OWN:
                unmatched.append({**row, "day": row["day"].isoformat(), "source": source})
                continue
            daily[match[0].id][row["day"]][source] += row["items"]  # type: ignore[index]
    out: list[PointFee] = []
    for p in points:
        start = p.agent_fee_from or p.opened_on
        pf = PointFee(p.id, p.code, p.name, p.tenant_code, p.agent_fee,  # type: ignore[arg-type]
                      start if p.agent_fee is not None else None)  # fmt: skip
        for day, counts in daily.get(p.id, {}).items():  # type: ignore[call-overload]
            n = sum(counts.values())
            for src, k in counts.items():
                pf.items[src] = pf.items.get(src, 0) + k
            if p.agent_fee is not None and day >= start:
                pf.items_with_agreement += n
            else:
                pf.items_without_agreement += n
        if p.agent_fee is not None:
            pf.fee = fees_due(pf.items_with_agreement, AgentFeeAgreement(p.agent_fee, start))
        if pf.items_total or p.agent_fee is not None:
            pf.items = dict(sorted(pf.items.items()))
            out.append(pf)
    sources = {OWN: "counted", **{k: v for k, v in found.sources.items() if k != OWN}}
    return MonthFees(month, first, last, out, sources, unmatched, found.names)


def notes(fees: MonthFees) -> list[dict[str, str]]:
    """What the figures leave out, in words (zh and en)."""
    others = {k: v for k, v in fees.sources.items() if k != OWN}
    if not others:
        return [{"zh": "未安装报告自提核销的插件（如电商）：代办费只计自提点自身的交付件数。",
                 "en": "No plugin reporting picked-up orders (such as ecommerce) is installed: "
                       "the fee counts the points' own handed-over items only."}]  # fmt: skip
    out = []
    for key, state in others.items():
        zh, en = fees.source_names.get(key, (key, key))
        if state == "off":
            out.append({"zh": f"{zh}插件在本单位未启用：其自提核销的订单未计入代办费。",
                        "en": f"The {en} plugin is off here: its picked-up orders are not "
                              "counted in the fee."})  # fmt: skip
        elif state == "failed":
            out.append({"zh": f"{zh}插件未能报告自提核销：其订单未计入代办费。",
                        "en": f"The {en} plugin failed to report picked-up orders: they are "
                              "not counted in the fee."})  # fmt: skip
    return out


def as_json(fees: MonthFees) -> dict[str, Any]:
    return {
        "month": fees.month,
        "from": fees.date_from.isoformat(),
        "to": fees.date_to.isoformat(),
        "sources": fees.sources,
        "notes": notes(fees),
        "points": [
            {
                "code": p.code,
                "name": p.name,
                "unit": p.unit,
                "fee_per_item": p.fee_per_item,
                "agreement_from": p.agreement_from.isoformat() if p.agreement_from else None,
                "items": p.items,
                "items_total": p.items_total,
                "items_with_agreement": p.items_with_agreement,
                "items_without_agreement": p.items_without_agreement,
                "fee": p.fee,
            }
            for p in fees.points
        ],
        "unmatched": fees.unmatched,
        "total": {
            "items": fees.items_by_source(),
            "items_total": sum(p.items_total for p in fees.points),
            "fee": fees.fee_total,
        },
    }


def export_table(fees: MonthFees, zh: bool) -> tuple[list[str], list[str], list[list[Any]]]:
    """``(header, kinds, rows)`` for the CSV/XLSX export: one row per point, amounts numbers."""
    sources = sorted({OWN, *fees.sources})
    label = {OWN: ("自提点交付件数", "Own items handed over"),
             "ecommerce": ("团购自提件数", "Group-buy orders picked up")}  # fmt: skip
    header = (
        ["自提点代码", "自提点", "单位", "代办费单价（元/件）", "协议起始日"]
        if zh
        else ["Point code", "Point", "Unit", "Fee per item (¥)", "Agreement from"]
    )
    header += [label.get(s, (f"{s} 件数", f"{s} items"))[0 if zh else 1] for s in sources]
    header += (
        ["合计件数", "无协议件数", "代办费（元）"]
        if zh
        else ["Items", "Items without agreement", "Fee (¥)"]
    )
    kinds = ["text", "text", "text", "money", "date"] + ["count"] * (len(sources) + 2) + ["money"]
    rows = [
        [p.code, p.name, p.unit, p.fee_per_item, p.agreement_from]
        + [p.items.get(s, 0) for s in sources]
        + [p.items_total, p.items_without_agreement, p.fee]
        for p in fees.points
    ]
    return header, kinds, rows


def export_response(fees: MonthFees, fmt: str) -> Any:
    """The month's fees as a CSV (UTF-8 with BOM) or XLSX download (amounts as numbers)."""
    import io

    from flask import send_file
    from postalops import formatting, ui
    from postalops.listing import to_csv, to_xlsx

    header, kinds, rows = export_table(fees, formatting.is_zh(ui.locale()))
    if fmt == "xlsx":
        data = to_xlsx(header, kinds, rows)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data, mime = to_csv(header, kinds, rows), "text/csv; charset=utf-8"
    return send_file(
        io.BytesIO(data),
        mimetype=mime,
        as_attachment=True,
        download_name=f"pickup-points-agent-fees-{fees.month}.{fmt}",
    )


def journal_entries(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    """The accrual of each month whose last day lies in ``date_from``..``date_to``: one voucher
    per city and month (reference ``pickup_points:agent_fee:<YYYY-MM>:<city>``), Dr 销售费用 the
    city's total and Cr 其他应付款 each point's fee, the point named in its line's memo."""
    lines: list[JournalLine] = []
    month = date_from.replace(day=1)
    while month <= date_to:
        tag = f"{month.year:04d}-{month.month:02d}"
        last = month_span(tag)[1]
        if date_from <= last <= date_to:
            by_city: dict[str, list[PointFee]] = defaultdict(list)
            for p in month_fees(session, tenant, tag).points:
                if p.fee > 0:
                    by_city[".".join(p.unit.split(".")[:3])].append(p)
            for city, points in sorted(by_city.items()):
                ref = f"pickup_points:agent_fee:{tag}:{city}"
                total = sum_lines(p.fee for p in points)
                memo = f"计提{tag}自提点代办费（{len(points)}个自提点）"
                lines.append(JournalLine(last, "selling_expenses", total, ZERO, city, ref, memo))
                for p in sorted(points, key=lambda p: p.code):
                    memo = f"计提自提点代办费 {p.name}（{p.code}）{tag}"
                    lines.append(JournalLine(last, "other_payable", ZERO, p.fee, city, ref, memo))
        month = last + dt.timedelta(days=1)
    return lines
