"""Payroll's HTTP API, mounted at /api/v1/payroll and listed in the OpenAPI document.

Views only parse, check permission and call the services; errors are the services' domain
errors, which the core turns into ``{"error": {"code", "message", "details"}}``. Every write
commits once at the end, so a rejected request changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from postalops import context
from postalops.api import ApiBlueprint, paginate, query_period, query_tenant
from postalops.auth import check_permission
from postalops.db import in_scope_clause
from postalops.errors import Forbidden, NotFound, ValidationError
from postalops.imports import read_upload
from postalops.jobs import submit
from postalops.money import parse_decimal
from pydantic import BaseModel, Field, StrictBool
from sqlmodel import select

from . import bank_file, exports, reports
from .controls import controls_for, save_controls
from .ingest import ingest
from .models import (
    PayrollCourier,
    PayrollDeductionRate,
    PayrollPayslip,
    PayrollRateCard,
    PayrollRun,
)
from .net import publish_rates, rates_dict, rates_from_payload
from .payroll_run import (
    add_adjustment,
    approve,
    check_can_run,
    draft_covering,
    get_run,
    payslip_lines,
    reopen,
)
from .period import Month
from .permissions import APPROVE, INGEST, MANAGE, OWN_PAYSLIP, REOPEN, RUN, SETTINGS, VIEW
from .rate_card import market_gap_report
from .rate_card_store import publish_rate_card, to_card
from .roster import (
    QuotaCheck,
    import_contract_terms,
    import_contractors,
    import_couriers,
    set_budget,
)
from .run_inputs import changes_since_run
from .work_events import COLLECTION, DELIVERY

api = ApiBlueprint("payroll_api", __name__)
TAGS = ["payroll"]


class RateCardIn(BaseModel):
    unit: str = Field(description="unit the card applies to, e.g. cn.henan.zhengzhou")
    card: dict[str, Any] = Field(description="the rate card (see the plugin README for its shape)")


class RunIn(BaseModel):
    unit: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2022-09"])


class ReopenIn(RunIn):
    reason: str = Field(min_length=1, max_length=500)


class AdjustmentIn(BaseModel):
    courier: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    amount: str = Field(description='signed yuan amount as a string, e.g. "-50.00"')
    reason: str = Field(min_length=1, max_length=300)


class BudgetIn(BaseModel):
    unit: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    volume_budget: int = Field(ge=0)
    unit_price_cap: str


def _commit() -> None:
    context.session().commit()


def _month_arg(name: str = "month") -> Month:
    value = request.args.get(name)
    if not value:
        raise ValidationError(
            f"{name} is required", details=[{"field": f"query.{name}", "message": "required"}]
        )
    return Month.parse(value, f"query.{name}")


# --- rate cards ---------------------------------------------------------------------------------


@api.operation(
    "/rate-cards",
    methods=["POST"],
    body=RateCardIn,
    permission=MANAGE,
    status=201,
    tags=TAGS,
    summary="Publish a new rate-card version for a unit (422 names every offending cell)",
)
def publish(body: RateCardIn) -> Any:
    row = publish_rate_card(context.session(), body.unit, body.card, context.principal().name)
    _commit()
    return {
        "unit": row.tenant_code,
        "version": row.version,
        "effective_from": row.effective_from,
        "card": row.body,
    }


@api.operation("/rate-cards", permission=VIEW, tags=TAGS, summary="Rate-card versions in scope")
def list_cards() -> Any:
    session = context.session()
    tenant = query_tenant()
    statement = (
        select(PayrollRateCard)
        .where(in_scope_clause(PayrollRateCard.tenant_code, tenant))
        .order_by(PayrollRateCard.tenant_code, PayrollRateCard.version)
    )
    return paginate(
        session,
        statement,
        lambda r: {
            "id": r.id,
            "unit": r.tenant_code,
            "version": r.version,
            "effective_from": r.effective_from,
            "created_by": r.created_by,
            "created_at": r.created_at,
        },
    )


@api.operation(
    "/rate-cards/<int:card_id>",
    permission=VIEW,
    tags=TAGS,
    summary="One rate-card version with its market gap report",
)
def card_detail(card_id: int) -> Any:
    row = context.session().get(PayrollRateCard, card_id)
    if row is None:
        raise NotFound(f"no rate card {card_id}")
    return {
        "unit": row.tenant_code,
        "version": row.version,
        "effective_from": row.effective_from,
        "card": row.body,
        "market_gap": market_gap_report(to_card(row)),
    }


# --- roster -------------------------------------------------------------------------------------


@api.operation(
    "/contractors/import",
    methods=["POST"],
    permission=MANAGE,
    files=True,
    tags=TAGS,
    summary="Import contractors (CSV/XLSX/JSON: code, name, unit); report per row",
)
def contractors_import() -> Any:
    report = import_contractors(context.session(), read_upload())
    _commit()
    return report


@api.operation(
    "/contract-terms/import",
    methods=["POST"],
    permission=MANAGE,
    files=True,
    tags=TAGS,
    summary="Import contract terms (code, contractor, start, end, unit_price); report per row",
)
def terms_import() -> Any:
    report = import_contract_terms(context.session(), read_upload())
    _commit()
    return report


@api.operation(
    "/couriers/import",
    methods=["POST"],
    permission=MANAGE,
    files=True,
    tags=TAGS,
    summary="Import couriers (code, name, kind, station, grade, base_pay, contractor, username); "
    "report per row; warnings flag a grade without a quota in the card in force",
)
def couriers_import() -> Any:
    report = import_couriers(context.session(), read_upload())
    _commit()
    return report


@api.operation(
    "/couriers", permission=VIEW, tags=TAGS, summary="Couriers in scope (?tenant=, paginated)"
)
def couriers() -> Any:
    tenant = query_tenant()
    statement = (
        select(PayrollCourier)
        .where(in_scope_clause(PayrollCourier.tenant_code, tenant))
        .order_by(PayrollCourier.code)
    )
    quotas = QuotaCheck(context.session())
    return paginate(
        context.session(),
        statement,
        lambda c: {
            "code": c.code,
            "name": c.name,
            "kind": c.kind,
            "station": c.tenant_code,
            "grade": c.grade,
            "base_pay": c.base_pay,
            "active": c.active,
            "warnings": quotas.warnings(c.tenant_code, c.kind, c.grade) if c.active else [],
        },
    )


# --- events -------------------------------------------------------------------------------------


def _ingest(kind: str) -> Any:
    report = ingest(context.session(), kind, read_upload())
    _commit()
    return report


@api.operation(
    "/events/deliveries",
    methods=["POST"],
    permission=INGEST,
    files=True,
    tags=TAGS,
    summary="Delivery scans (waybill, courier, time, category, mode, tier, pickup_point); all-or-nothing (422 lists every rejected row and its errors), idempotent, report per row",
)
def deliveries() -> Any:
    return _ingest(DELIVERY)


@api.operation(
    "/events/collections",
    methods=["POST"],
    permission=INGEST,
    files=True,
    tags=TAGS,
    summary="Collection records (waybill, courier, time, category, postage); all-or-nothing (422 lists every rejected row and its errors), idempotent, report per row",
)
def collections() -> Any:
    return _ingest(COLLECTION)


# --- runs ---------------------------------------------------------------------------------------


def _run_dict(run: PayrollRun) -> dict[str, Any]:
    """A run as the API shows it; a draft says whether it is stale (its inputs changed since
    it ran: ``changes`` names each) and so must be run again before approval."""
    changes = changes_since_run(context.session(), run)
    return {
        "id": run.id,
        "unit": run.tenant_code,
        "month": str(Month(run.month // 100, run.month % 100)),
        "status": run.status,
        "job_id": run.job_id,
        "computed_at": run.computed_at,
        "couriers": run.couriers,
        "own_items": run.own_items,
        "outsourced_items": run.outsourced_items,
        "pickup_point_items": run.pickup_point_items,
        "own_total": run.own_total,
        "agent_fees": run.agent_fees,
        "outsourced_total": run.outsourced_total,
        "payroll_total": run.payroll_total,
        "rate_card_versions": run.rate_card_versions,
        # From gross to net, over own staff (outsourced couriers are paid by their contractor).
        "deductions_total": run.deductions_total,
        "employer_total": run.employer_total,
        "income_tax_total": run.income_tax_total,
        "net_total": run.net_total,
        "paid_on": run.paid_on,
        # Set when this month's approval recomputed later months' cumulative tax.
        "recomputed_following_months": (run.net_notice or {}).get("months", []),
        "stale": bool(changes),
        "changes": changes,
    }


@api.operation(
    "/runs",
    methods=["POST"],
    body=RunIn,
    permission=RUN,
    status=202,
    tags=TAGS,
    summary="Start a payroll run of one unit and month as a tracked job "
    "(409 month_locked / overlapping_run at once)",
)
def start_run(body: RunIn) -> Any:
    month = Month.parse(body.month)
    # The job checks the scope again; refusing here answers 403 instead of a failed job.
    if not context.current().scope.allows(body.unit):
        raise Forbidden(
            f"unit {body.unit!r} is outside your scope",
            details=[{"field": "unit", "message": "outside scope"}],
        )
    # A locked month or a run at another level answers 409 now, not a 202 and a failed job.
    check_can_run(context.session(), body.unit, month)
    job = submit(
        "payroll.run",
        {"unit": body.unit, "month": str(month), "actor": context.principal().name},
        tenant=body.unit,
    )
    return {"job_id": job.id, "status": job.status, "job_url": f"/api/v1/jobs/{job.id}"}


@api.operation(
    "/runs", permission=VIEW, tags=TAGS, summary="Payroll runs in scope (?tenant=&month=)"
)
def runs() -> Any:
    tenant = query_tenant()
    statement = select(PayrollRun).where(in_scope_clause(PayrollRun.tenant_code, tenant))
    if request.args.get("month"):
        month = _month_arg()
        statement = statement.where(PayrollRun.month == month.year * 100 + month.month)
    return paginate(
        context.session(), statement.order_by(PayrollRun.month, PayrollRun.tenant_code), _run_dict
    )


@api.operation(
    "/runs/approve",
    methods=["POST"],
    body=RunIn,
    permission=APPROVE,
    tags=TAGS,
    summary="Approve a draft run; locks the month (audited)",
)
def approve_run(body: RunIn) -> Any:
    run = approve(context.session(), body.unit, Month.parse(body.month), context.principal().name)
    _commit()
    return _run_dict(run)


class ControlsIn(BaseModel):
    unit: str | None = Field(default=None, description="default: the caller's active unit")
    maker_checker: StrictBool


def _controls_dict(controls: Any) -> dict[str, Any]:
    return {
        "unit": controls.unit,
        "maker_checker": controls.maker_checker,
        "set_at": controls.set_at,
    }


@api.operation(
    "/settings",
    permission=VIEW,
    tags=TAGS,
    summary="Payroll controls in force at a unit (?tenant=), and the unit they come from",
)
def get_settings() -> Any:
    return _controls_dict(controls_for(context.session(), query_tenant()))


@api.operation(
    "/settings",
    methods=["PUT"],
    body=ControlsIn,
    permission=SETTINGS,
    tags=TAGS,
    summary="Set payroll controls at a unit (maker-checker on approval; inherited below it)",
)
def put_settings(body: ControlsIn) -> Any:
    from postalops.models import OrgUnit

    session = context.session()
    unit = body.unit or context.tenant()
    if session.exec(select(OrgUnit.id).where(OrgUnit.code == unit)).first() is None:
        raise ValidationError(
            f"unknown unit {unit!r}", details=[{"field": "unit", "message": "unknown unit"}]
        )
    save_controls(session, unit, body.maker_checker, context.principal().name)
    _commit()
    return _controls_dict(controls_for(session, unit))


@api.operation(
    "/runs/reopen",
    methods=["POST"],
    body=ReopenIn,
    permission=REOPEN,
    tags=TAGS,
    summary="Reopen an approved month with a reason (audited)",
)
def reopen_run(body: ReopenIn) -> Any:
    run = reopen(
        context.session(), body.unit, Month.parse(body.month), context.principal().name, body.reason
    )
    _commit()
    return _run_dict(run)


@api.operation(
    "/adjustments",
    methods=["POST"],
    body=AdjustmentIn,
    permission=RUN,
    status=201,
    tags=TAGS,
    summary="Add a manual adjustment (reason, author) to a courier's month; the month's draft "
    "turns stale (shown in `run`) until it is run again",
)
def adjustment(body: AdjustmentIn) -> Any:
    amount = parse_decimal(body.amount, "amount", minimum=None)
    assert amount is not None
    row = add_adjustment(
        context.session(),
        body.courier,
        Month.parse(body.month),
        amount,
        body.reason,
        context.principal().name,
    )
    session = context.session()
    # The adjustment is priced by the month's next run; a draft already run is now stale.
    draft = draft_covering(session, row.tenant_code or "", row.month)
    _commit()
    return {
        "id": row.id,
        "courier": body.courier,
        "month": body.month,
        "amount": row.amount,
        "reason": row.reason,
        "author": row.author,
        "included_in_payslip": False,
        "note": f"takes effect when {body.month} is run"
        + ("" if draft is None else " again; until then its draft is stale"),
        "run": None if draft is None else _run_dict(draft),
    }


# --- payslips -----------------------------------------------------------------------------------


def own_courier_ids() -> list[int] | None:
    """Courier ids the caller may see when they only hold ``payroll.payslip.own``; None = all in scope."""
    who = context.principal()
    if who.can(VIEW):
        return None
    check_permission(OWN_PAYSLIP)
    username = who.name.removeprefix("user:")
    if who.kind != "user":
        return []
    return list(
        context.session().exec(select(PayrollCourier.id).where(PayrollCourier.username == username))
    )


def _slip_dict(slip: PayrollPayslip, with_lines: bool = False) -> dict[str, Any]:
    out = {
        "id": slip.id,
        "courier": slip.courier_code,
        "station": slip.tenant_code,
        "kind": slip.kind,
        "month": str(Month(slip.month // 100, slip.month % 100)),
        "delivered_items": slip.delivered_items,
        "pickup_point_items": slip.pickup_point_items,
        "quota": slip.quota,
        "collected_postage": slip.collected_postage,
        "quota_completion": slip.quota_completion,
        "quota_band": slip.quota_band,
        "quota_multiplier": slip.quota_multiplier,
        "rate_card_version": slip.rate_card_version,
        "agent_fees": slip.agent_fees,
        "total": slip.total,
        "gross": slip.total,
        "contribution_base": slip.contribution_base,
        "pension": slip.pension,
        "medical": slip.medical,
        "unemployment": slip.unemployment,
        "housing_fund": slip.housing_fund,
        "employer_costs": slip.employer_costs,
        "special_deduction": slip.special_deduction,
        "ytd_taxable": slip.ytd_taxable,
        "ytd_tax": slip.ytd_tax,
        "income_tax": slip.income_tax,
        "net_pay": slip.net_pay,
        "pdf_url": f"/api/v1/payroll/payslips/{slip.id}.pdf",
    }
    if with_lines:
        out["lines"] = [
            {
                "kind": ln.kind,
                "category": ln.category,
                "mode": ln.mode,
                "tier": ln.tier,
                "volume_tier": ln.volume_tier,
                "quantity": ln.quantity,
                "unit_rate": ln.unit_rate,
                "amount": ln.amount,
                "rate_card_version": ln.rate_card_version,
                "contract_term": ln.contract_term,
                "reason": ln.reason,
                "author": ln.author,
            }
            for ln in payslip_lines(slip)
        ]
    return out


@api.operation(
    "/payslips",
    tags=TAGS,
    summary="Payslips in scope (?tenant=&month=&courier=); a courier sees only their own",
)
def payslips() -> Any:
    only = own_courier_ids()
    statement = select(PayrollPayslip)
    if only is None:
        statement = statement.where(in_scope_clause(PayrollPayslip.tenant_code, query_tenant()))
    else:
        statement = statement.where(PayrollPayslip.courier_id.in_(only))  # type: ignore[attr-defined]
    if request.args.get("month"):
        month = _month_arg()
        statement = statement.where(PayrollPayslip.month == month.year * 100 + month.month)
    if request.args.get("courier"):
        statement = statement.where(PayrollPayslip.courier_code == request.args["courier"])
    return paginate(
        context.session(),
        statement.order_by(PayrollPayslip.month, PayrollPayslip.courier_code),
        _slip_dict,
    )


@api.operation("/payslips/<int:slip_id>", tags=TAGS, summary="One payslip with its lines")
def payslip(slip_id: int) -> Any:
    only = own_courier_ids()
    slip = context.session().get(PayrollPayslip, slip_id)
    if slip is None or (only is not None and slip.courier_id not in only):
        raise NotFound(f"no payslip {slip_id}")
    return _slip_dict(slip, with_lines=True)


@api.operation("/payslips/<int:slip_id>.pdf", tags=TAGS, summary="One payslip as a PDF, in Chinese")
def payslip_pdf(slip_id: int) -> Any:
    from postalops.ui import unit_name

    from .payslip_pdf import payslip_pdf as render

    only = own_courier_ids()
    session = context.session()
    slip = session.get(PayrollPayslip, slip_id)
    if slip is None or (only is not None and slip.courier_id not in only):
        raise NotFound(f"no payslip {slip_id}")
    courier = session.get(PayrollCourier, slip.courier_id)
    data = render(
        slip,
        courier.name if courier else slip.courier_code,
        unit_name(slip.tenant_code or "", "zh"),
    )
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename=payslip-{slip.courier_code}-{slip.month}.pdf"
        },
    )


# --- statutory rates ----------------------------------------------------------------------------


class DeductionRatesIn(BaseModel):
    unit: str = Field(description="unit the rates apply to (normally a city)")
    effective_from: str = Field(examples=["2022-01-01"], description="the 1st of a month")
    pension: Any = Field(description='employee share of pension insurance, e.g. "0.08"')
    medical: Any = Field(description='employee share of medical insurance, e.g. "0.02"')
    unemployment: Any = Field(description="employee share of unemployment insurance")
    housing_fund: Any = Field(description="employee share of the housing fund")
    employer_pension: Any
    employer_medical: Any
    employer_unemployment: Any
    employer_housing_fund: Any
    base_floor: Any = Field(description="lowest contribution base, yuan")
    base_ceiling: Any = Field(description="highest contribution base, yuan")


@api.operation(
    "/deduction-rates",
    methods=["POST"],
    body=DeductionRatesIn,
    permission=MANAGE,
    status=201,
    tags=TAGS,
    summary="Save a version of a unit's statutory rates (五险一金 shares, base floor and "
    "ceiling); 422 names every bad field, 409 month_locked in an approved month",
)
def save_deduction_rates(body: DeductionRatesIn) -> Any:
    rates = rates_from_payload(body.model_dump())
    row = publish_rates(context.session(), body.unit, rates, context.principal().name)
    _commit()
    return rates_dict(row)


@api.operation(
    "/deduction-rates", permission=VIEW, tags=TAGS, summary="Statutory rate versions in scope"
)
def list_deduction_rates() -> Any:
    statement = (
        select(PayrollDeductionRate)
        .where(in_scope_clause(PayrollDeductionRate.tenant_code, query_tenant()))
        .order_by(PayrollDeductionRate.tenant_code, PayrollDeductionRate.effective_from)
    )
    return paginate(context.session(), statement, rates_dict)


# --- the bank payment file ----------------------------------------------------------------------


def _bank_rows() -> tuple[PayrollRun, list]:
    session = context.session()
    run = get_run(session, query_tenant(required=True), _month_arg())
    rows = bank_file.payees(session, run)
    bank_file.record_payment(session, run, rows, context.principal().name)
    _commit()
    return run, rows


@api.operation(
    "/exports/bank-file.csv",
    permission=RUN,
    tags=TAGS,
    summary="Bank payment file (代发工资) of an approved month as CSV (?tenant=&month=); "
    "422 missing_bank_account names every payee without one",
)
def bank_file_csv() -> Any:
    run, rows = _bank_rows()
    return Response(
        bank_file.bank_csv(rows),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=bank-{run.tenant_code}-{run.month}.csv"
        },
    )


@api.operation(
    "/exports/bank-file.xlsx",
    permission=RUN,
    tags=TAGS,
    summary="Bank payment file (代发工资) of an approved month as XLSX (amounts numeric)",
)
def bank_file_xlsx() -> Any:
    run, rows = _bank_rows()
    return _xlsx(bank_file.bank_xlsx(rows), f"bank-{run.tenant_code}-{run.month}.xlsx")


# --- outsourcing, reports, exports -------------------------------------------------------------


@api.operation(
    "/budgets",
    methods=["PUT"],
    body=BudgetIn,
    permission=MANAGE,
    tags=TAGS,
    summary="Set a city's monthly outsourced-volume budget and unit-price cap",
)
def put_budget(body: BudgetIn) -> Any:
    cap = parse_decimal(body.unit_price_cap, "unit_price_cap")
    assert cap is not None
    row = set_budget(context.session(), body.unit, Month.parse(body.month), body.volume_budget, cap)
    _commit()
    return {
        "unit": row.tenant_code,
        "month": body.month,
        "volume_budget": row.volume_budget,
        "unit_price_cap": row.unit_price_cap,
    }


@api.operation(
    "/budgets/status",
    permission=VIEW,
    tags=TAGS,
    summary="Budget consumption per city and month with 90%/100% alerts (?tenant=&from=&to=)",
)
def budget_status() -> Any:
    date_from, date_to = query_period(default_days=365)
    return {"items": reports.budget_report(context.session(), query_tenant(), date_from, date_to)}


@api.operation(
    "/reports/unit-cost",
    permission=VIEW,
    tags=TAGS,
    summary="Cost per item by city and month: own, outsourced (all-in unit price) and overall",
)
def unit_cost() -> Any:
    date_from, date_to = query_period(default_days=365)
    return {
        "items": reports.unit_cost_report(context.session(), query_tenant(), date_from, date_to)
    }


@api.operation(
    "/reports/market-gap",
    permission=VIEW,
    tags=TAGS,
    summary="Our door rates minus market (通达系) rates, per unit's card in force (?tenant=&month=)",
)
def market_gap() -> Any:
    return {"items": reports.market_gap(context.session(), query_tenant(), _month_arg())}


def _xlsx(data: bytes, name: str) -> Response:
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@api.operation(
    "/exports/payslips.xlsx",
    permission=VIEW,
    tags=TAGS,
    summary="Payslips and lines of a unit's month as XLSX",
)
def export_payslips() -> Any:
    run = get_run(context.session(), query_tenant(required=True), _month_arg())
    return _xlsx(
        exports.payslips_xlsx(context.session(), run),
        f"payslips-{run.tenant_code}-{run.month}.xlsx",
    )


@api.operation(
    "/exports/cost-summary.xlsx",
    permission=VIEW,
    tags=TAGS,
    summary="Cost summary by city and month as XLSX",
)
def export_costs() -> Any:
    date_from, date_to = query_period(default_days=365)
    rows = reports.unit_cost_report(context.session(), query_tenant(), date_from, date_to)
    return _xlsx(exports.cost_summary_xlsx(rows), f"cost-summary-{date_from}-{date_to}.xlsx")
