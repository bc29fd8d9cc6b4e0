"""The portfolio dashboard (/dashboards/lending): KPIs, disbursements by month, the
five-category mix and the NPL ratio at each close of business, relief by kind."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.express as px
from dash import html
from postalops.db import in_scope_clause
from postalops.plugins import DashboardPage
from postalops_dashboards import ViewContext, chart, figures, metric_cards
from sqlmodel import select

from postalops_lending.classification import CATEGORY_ZH, NON_PERFORMING, Category
from postalops_lending.models import Loan, PortfolioSnapshot, Relief

ORDER = [c.value for c in Category]


def pages(dash_app: Any) -> list[DashboardPage]:
    return [DashboardPage("lending", "小微E贷 贷款组合", "Micro-loan portfolio", layout, order=60)]


def layout(ctx: ViewContext) -> Any:
    s, unit = ctx.session, ctx.tenant
    kpis = ctx.metrics("lending").get("lending", {})

    loans = s.exec(
        select(Loan.disbursed_on, Loan.principal, Loan.origin).where(
            in_scope_clause(Loan.tenant_code, unit),
            Loan.disbursed_on >= ctx.date_from,
            Loan.disbursed_on <= ctx.date_to,
        )
    ).all()
    monthly: dict[str, Decimal] = defaultdict(Decimal)
    for day, principal, origin in loans:
        if origin == "application":
            monthly[day.strftime("%Y-%m")] += principal
    disb = pd.DataFrame(
        [{"month": m, "amount": str(v)} for m, v in sorted(monthly.items())],
        columns=["month", "amount"],
    )
    month = ctx.t("月份", "Month")
    disb_fig = px.bar(
        disb.astype({"amount": float}).assign(
            month_label=[figures.month_label(m, ctx.zh) for m in disb["month"]]
        ),
        x="month_label",
        y="amount",
        labels={"month_label": month, "amount": ctx.t("放款金额（元）", "Amount disbursed (CNY)")},
        title=ctx.t("每月放款金额", "Amount disbursed per month"),
    )
    figures.format_values(disb_fig, "CNY", ctx.zh)

    snaps = s.exec(
        select(
            PortfolioSnapshot.as_of,
            PortfolioSnapshot.category,
            PortfolioSnapshot.loans,
            PortfolioSnapshot.outstanding,
        ).where(
            in_scope_clause(PortfolioSnapshot.tenant_code, unit),
            PortfolioSnapshot.as_of >= ctx.date_from,
            PortfolioSnapshot.as_of <= ctx.date_to,
        )
    ).all()
    by_day: dict[Any, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for as_of, category, _n, outstanding in snaps:
        by_day[as_of][category] += outstanding
    trend = pd.DataFrame(
        [
            {
                "as_of": d.isoformat(),
                "npl_ratio": str(_npl(v)),
                "outstanding": str(sum(v.values(), Decimal("0"))),
            }
            for d, v in sorted(by_day.items())
        ],
        columns=["as_of", "npl_ratio", "outstanding"],
    )
    npl_fig = px.line(
        trend.astype({"npl_ratio": float}),
        x="as_of",
        y="npl_ratio",
        markers=True,
        labels={
            "as_of": ctx.t("日终日期", "Close of business"),
            "npl_ratio": ctx.t("不良贷款率", "NPL ratio"),
        },
        title=ctx.t("日终不良贷款率", "NPL ratio at each close of business"),
    )
    figures.format_values(npl_fig, "ratio", ctx.zh)
    npl_fig.update_yaxes(tickformat=".1%")
    last = by_day[max(by_day)] if by_day else {}
    mix = pd.DataFrame(
        [
            {
                "category": CATEGORY_ZH[Category(c)]
                if ctx.zh
                else c.replace("_", " ").capitalize(),
                "outstanding": str(last.get(c, 0)),
            }
            for c in ORDER
        ],
        columns=["category", "outstanding"],
    )
    mix_fig = px.bar(
        mix.astype({"outstanding": float}),
        x="category",
        y="outstanding",
        labels={
            "category": ctx.t("五级分类", "Five-category class"),
            "outstanding": ctx.t("贷款余额（元）", "Outstanding (CNY)"),
        },
        title=ctx.t("五级分类余额（最近日终）", "Outstanding by five-category class (last close)"),
    )
    figures.format_values(mix_fig, "CNY", ctx.zh)

    reliefs = s.exec(
        select(Relief.kind, Relief.relief_date).where(
            in_scope_clause(Relief.tenant_code, unit),
            Relief.status == "approved",
            Relief.relief_date >= ctx.date_from,
            Relief.relief_date <= ctx.date_to,
        )
    ).all()
    labels = {
        "refinancing": ctx.t("再融资", "Refinancing"),
        "extension": ctx.t("临时性延期", "Temporary extension"),
        "renewal": ctx.t("无还本续贷", "Renewal"),
    }
    rel = pd.DataFrame(
        [{"kind": labels.get(k, k), "month": d.strftime("%Y-%m")} for k, d in reliefs],
        columns=["kind", "month"],
    )
    rel_counts = (
        rel.groupby(["month", "kind"]).size().reset_index(name="cases")
        if len(rel)
        else pd.DataFrame(columns=["month", "kind", "cases"])
    )
    rel_counts["month_label"] = [figures.month_label(m, ctx.zh) for m in rel_counts["month"]]
    rel_fig = px.bar(
        rel_counts,
        x="month_label",
        y="cases",
        color="kind",
        labels={
            "month_label": month,
            "cases": ctx.t("笔数", "Cases"),
            "kind": ctx.t("纾困方式", "Relief kind"),
        },
        title=ctx.t("纾困业务（按月）", "Relief cases per month"),
    )
    figures.format_values(rel_fig, "reliefs", ctx.zh)

    return html.Div(
        [
            metric_cards(kpis, ctx.zh, "lending"),
            chart(disb_fig, disb, "lending-disbursements", zh=ctx.zh),
            chart(npl_fig, trend, "lending-npl-trend", zh=ctx.zh),
            chart(mix_fig, mix, "lending-five-category", zh=ctx.zh),
            chart(rel_fig, rel_counts, "lending-relief", zh=ctx.zh),
        ],
        className="lending-dashboard",
    )


def _npl(values: dict[str, Decimal]) -> Decimal:
    total = sum(values.values(), Decimal("0"))
    if not total:
        return Decimal("0")
    npl = sum(
        (v for k, v in values.items() if k in {c.value for c in NON_PERFORMING}), Decimal("0")
    )
    return (npl / total).quantize(Decimal("0.0001"))
