"""Portal pages under /p/pickup_points (Jinja, zh_CN first, English via Flask-Babel).

One page per workflow: overview (KPIs), coverage (table, CSV export, uncovered list,
recompute job), map, imports (per-row reports), service quality, direct delivery and 转窗投.
Pages call the same services as the API.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import plotly
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from postalops import clock, context
from postalops.auth import check_permission
from postalops.db import in_scope_clause
from postalops.errors import PostalOpsError
from postalops.i18n import row_problems
from postalops.jobs import submit
from postalops.listing import Column, Listing, ListPage
from postalops.models import Job
from pydantic import ValidationError as PydanticError
from sqlmodel import select

from . import import_labels, service
from .area_import import read_rows, validate_area_row, validate_point_row, validate_rows
from .counter_handover import handover_share, trend
from .figures import map_figure, siting_figure
from .metrics import kpis
from .models import PickupArea, PickupPoint, PickupSitingScenario
from .permissions import DIRECT, MANAGE, VIEW
from .points import AREA_CATEGORY_LABELS, POINT_TYPE_LABELS, PointStatus
from .service import PromoteIn, SitingParams
from .site_suggestion import Candidate

bp = Blueprint("pickup_points", __name__, template_folder="templates")


def _day(name: str = "day", default: dt.date | None = None) -> dt.date:
    raw = request.args.get(name)
    try:
        return dt.date.fromisoformat(raw) if raw else (default or clock.today())
    except ValueError:
        abort(400)


def _period() -> tuple[dt.date, dt.date]:
    to = _day("to")
    frm = _day("from", to.replace(day=1))
    if frm > to:
        abort(400)
    return frm, to


def is_zh() -> bool:
    from flask_babel import get_locale

    return str(get_locale() or "zh_CN").startswith("zh")


@bp.app_template_global()
def pickup_label(pairs: dict, key: Any) -> str:
    """The Chinese or English label of a point type or area category."""
    zh, en = pairs.get(key, (str(key), str(key)))
    return zh if is_zh() else en


@bp.route("/")
def index() -> Any:
    check_permission(VIEW)
    frm, to = _period()
    unit = context.tenant()
    figures = kpis(context.session(), unit, frm, to)
    return render_template("pickup_points/index.html", unit=unit, frm=frm, to=to, kpis=figures)


@bp.route("/coverage")
def coverage() -> Any:
    check_permission(VIEW)
    return _coverage_page(_day())


def _coverage_page(day: dt.date, suggest_errors: dict[str, str] | None = None) -> Any:
    """The coverage page; ``suggest_errors`` shows a refused suggestion form in place (422)."""
    unit = context.tenant()
    s = context.session()
    from postalops.ui import unit_name

    rows = sorted(  # by the unit's name, as the reader looks for it, then the category
        service.coverage_table(s, unit, day),
        key=lambda r: (r["unit"].count("."), unit_name(r["unit"]), r["category"]),
    )
    uncovered = service.uncovered_list(s, unit, day, k=3)
    return render_template(
        "pickup_points/coverage.html",
        unit=unit,
        day=day,
        rows=ListPage(rows, request.args, prefix="c_"),
        uncovered=ListPage(uncovered, request.args, prefix="u_"),
        categories=AREA_CATEGORY_LABELS,
        can_manage=context.principal().can(MANAGE),
        suggest_errors=suggest_errors or {},
        typed=request.form,
    ), (422 if suggest_errors else 200)


@bp.route("/coverage/suggest", methods=["POST"])
def suggest() -> Any:
    """New-site suggestions: candidates from an uploaded CSV (id, lon, lat) or, without a file,
    the uncovered areas' own locations."""
    check_permission(VIEW)
    day = _day()
    unit = context.tenant()
    s = context.session()
    raw_limit = request.form.get("limit", "5").strip()
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        return _coverage_page(day, {"limit": _("Enter a whole number from 1 to 1000.")})
    limit = int(raw_limit)
    try:
        f = request.files.get("file")
        if f is not None and f.filename:
            rows = read_rows(f.read(), "xlsx" if f.filename.lower().endswith(".xlsx") else "csv")
            candidates = [
                Candidate(str(r.get("id") or n), float(r["lon"]), float(r["lat"])) for n, r in rows
            ]
        else:
            candidates = [
                Candidate(u["name"] or str(u["area_id"]), u["lon"], u["lat"])
                for u in service.uncovered_list(s, unit, day, k=1)
            ]
        picked = service.suggest(s, unit, day, candidates, limit) if candidates else []
    except (KeyError, ValueError, TypeError):
        return _coverage_page(
            day, {"file": _("Candidates need id, lon and lat columns, lon and lat as numbers.")}
        )
    except PostalOpsError as error:
        return _coverage_page(day, {"file": error.message})
    return render_template("pickup_points/suggest.html", day=day, picked=picked, limit=limit)


@bp.route("/coverage.csv")
def coverage_csv() -> Any:
    check_permission(VIEW)
    day = _day()
    rows = service.coverage_table(context.session(), context.tenant(), day)
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf,
        fieldnames=[
            "unit",
            "category",
            "covered_households",
            "total_households",
            "covered_areas",
            "total_areas",
            "rate",
        ],
    )
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        "\ufeff" + buf.getvalue(),  # BOM so Excel opens the Chinese unit names correctly
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=coverage-{day}.csv"},
    )


@bp.route("/coverage/recompute", methods=["POST"])
def recompute() -> Any:
    check_permission(MANAGE)
    day = request.form.get("day") or clock.today().isoformat()
    try:
        job = submit("pickup_points.recompute_coverage", {"day": day})
    except PostalOpsError as error:
        flash(error.message, "error")
        return redirect(url_for("pickup_points.coverage"))
    return redirect(url_for("pickup_points.job_progress", job_id=job.id))


@bp.route("/jobs/<job_id>")
def job_progress(job_id: str) -> Any:
    check_permission(VIEW)
    job = context.session().get(Job, job_id)
    if job is None or not context.current().scope.allows(job.tenant_code):
        abort(404)
    from postalops.jobs import JobService

    service = current_app.extensions.get("postalops.jobs")
    label = service.label(job.kind, is_zh()) if isinstance(service, JobService) else _("Job")
    return render_template("pickup_points/job.html", job=job, job_title=label)


@bp.route("/map")
def map_page() -> Any:
    check_permission(VIEW)
    day = _day()
    tiles = request.args.get("tiles") == "1"
    fig = map_figure(context.session(), context.tenant(), day, is_zh(), tiles=tiles)
    return render_template(
        "pickup_points/map.html",
        day=day,
        tiles=tiles,
        figure=fig.to_html(full_html=False, include_plotlyjs=False, div_id="pickup-map"),
    )


@bp.route("/assets/plotly.min.js")
def plotly_js() -> Any:
    """plotly.js from the installed plotly package: served locally, no CDN."""
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return send_file(path, mimetype="application/javascript", max_age=86400)


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> Any:
    check_permission(VIEW)
    report = result = None
    errors: dict[str, str] = {}
    kind = request.form.get("kind", "areas")
    if request.method == "POST":
        check_permission(MANAGE)
        f = request.files.get("file")
        if kind not in ("areas", "points"):
            errors["kind"] = _("Choose what the file holds.")
        if f is None or not f.filename:
            errors["file"] = _("Choose a CSV, XLSX or GeoJSON file.")
        if errors:
            return render_template(
                "pickup_points/import.html",
                report=None,
                problems=[],
                columns=import_labels.COLUMNS,
                file_columns=import_labels.FILE_COLUMNS,
                result=None,
                kind=kind,
                unit=context.tenant(),
                errors=errors,
            ), 422
        assert f is not None and f.filename
        name = f.filename.lower()
        fmt = (
            "xlsx"
            if name.endswith(".xlsx")
            else "geojson"
            if name.endswith((".geojson", ".json"))
            else "csv"
        )
        s = context.session()
        try:
            rows = read_rows(f.read(), fmt)
            validator = validate_point_row if kind == "points" else validate_area_row
            report = validate_rows(rows, validator)
            service.check_counties(s, context.tenant(), report)  # with the shape errors
            if report.ok:
                if kind == "points":
                    result = service.import_points(
                        s, context.tenant(), report, context.principal().name, clock.today()
                    )
                else:
                    result = service.import_areas(s, context.tenant(), report)
                s.commit()
                flash(_("Imported: %(created)s new, %(updated)s updated.", **result), "ok")
            else:
                errors["file"] = _("Nothing was imported: fix the rows below.")
        except PostalOpsError as error:
            s.rollback()
            errors["file"] = error.message
    refused = [r for r in report.rows if not r.ok] if report is not None else []
    return render_template(
        "pickup_points/import.html",
        report=report,
        problems=row_problems(
            [{"row": r.row, "errors": r.errors} for r in refused],
            import_labels.COLUMNS,
            import_labels.MESSAGES,
        ),
        columns=import_labels.COLUMNS,
        file_columns=import_labels.FILE_COLUMNS,
        result=result,
        kind=kind,
        unit=context.tenant(),
        errors=errors,
    ), (422 if errors else 200)


@bp.route("/quality")
def quality() -> Any:
    check_permission(VIEW)
    frm, to = _period()
    unit = context.tenant()
    s = context.session()
    per_point = service.quality_by_point(s, unit, frm, to)
    points = {
        p.id: p
        for p in s.exec(
            select(PickupPoint).where(in_scope_clause(PickupPoint.tenant_code, unit))
        ).all()
    }
    rows = sorted(
        ((points[pid], f) for pid, f in per_point.items() if pid in points),
        key=lambda pf: (-(pf[1].uncollected_rate or 0), pf[0].code),
    )
    return render_template(
        "pickup_points/quality.html", frm=frm, to=to, rows=ListPage(rows, request.args), unit=unit
    )


@bp.route("/direct")
def direct() -> Any:
    check_permission(VIEW)
    return _direct_page()


def _direct_page(switch_errors: dict[int, str] | None = None) -> Any:
    """The direct-delivery page; ``switch_errors`` ``{point id: message}`` shows a refused
    switch beside that proposal's date field (422)."""
    frm, to = _period()
    window_end = _day("window_end", to)
    unit = context.tenant()
    s = context.session()
    found, rules = service.proposals(s, unit, window_end)
    names = {
        p.id: p
        for p in s.exec(
            select(PickupPoint).where(in_scope_clause(PickupPoint.tenant_code, unit))
        ).all()
    }
    months = service.counter_handover_monthly(
        s, unit, frm.replace(day=1) - dt.timedelta(days=62), to
    )
    return render_template(
        "pickup_points/direct.html",
        frm=frm,
        to=to,
        window_end=window_end,
        window=rules.window(window_end),
        threshold=rules.threshold_per_day,
        proposals=ListPage([(names.get(p.point_id), p) for p in found], request.args, "p_"),
        switched=ListPage(sorted(service.direct_on(s, unit, to).items()), request.args, "s_"),
        names=names,
        diverted=service.diverted(s, unit, frm, to),
        city=service.city_delivery(s, unit, frm, to),
        share=service.share(s, unit, frm, to),
        handover=trend(months),
        branches=ListPage(
            [
                (code, unit, c, i, handover_share(c, i))
                for _, code, unit, c, i in service.counter_handover_by_point(s, unit, frm, to)
            ],
            request.args,
            "b_",
        ),
        can_switch=context.principal().can(DIRECT),
        switch_errors=switch_errors or {},
        typed=request.form,
    ), (422 if switch_errors else 200)


@bp.route("/direct/switch", methods=["POST"])
def direct_switch() -> Any:
    from postalops import ui

    check_permission(DIRECT)
    s = context.session()
    try:
        point_id = int(request.form.get("point_id", ""))
    except ValueError:
        abort(400)
    point = s.get(PickupPoint, point_id)
    if point is None or not context.current().scope.allows(point.tenant_code):
        abort(404)
    try:
        effective = dt.date.fromisoformat(request.form.get("effective", ""))
    except ValueError:
        return _direct_page({point_id: _("Choose the day direct delivery starts.")})
    confirm = ui.confirm_first(
        _(
            "From %(day)s, %(point)s's items are delivered to the door instead of waiting at "
            "the point.",
            day=effective.isoformat(),
            point=f"{point.code} {point.name}",
        ),
        _("Switch to direct delivery"),
    )
    if confirm is not None:
        return confirm
    try:
        service.record_switch(s, point_id, effective, context.principal().name)
        s.commit()
        flash(_("Switch recorded."), "ok")
    except PostalOpsError as error:
        s.rollback()
        message = (
            _("This point is already on direct delivery.")
            if error.code == "already_direct"
            else error.message
        )
        return _direct_page({point_id: message})
    return redirect(url_for("pickup_points.direct", **request.args))


def _choices(labels: dict) -> list[tuple[str, str, str]]:
    return [(str(k), zh, en) for k, (zh, en) in labels.items()]


AREAS = Listing(
    select(PickupArea),
    [
        Column("code", "编码", "Code", sortable=True, filter="text"),
        Column("name", "名称", "Name", sortable=True, filter="text"),
        Column(
            "category",
            "类别",
            "Category",
            kind="status",
            domain="pickup_points.area_category",
            filter="choice",
            choices=_choices(AREA_CATEGORY_LABELS),
        ),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", sortable=True),
        Column("county", "区县", "County", show=False),  # the unit column names it
        Column("households", "户数", "Households", kind="count", unit="households", sortable=True),
        Column(
            "covered",
            "是否覆盖",
            "Covered",
            kind="status",
            domain="pickup_points.covered",
            filter="choice",
            choices=("true", "false"),  # labelled by the domain
            value=lambda a: "unknown" if a.covered is None else str(bool(a.covered)).lower(),
            expr=PickupArea.covered,
        ),
        Column(
            "nearest_m",
            "最近自提点距离（米）",
            "Nearest point (m)",
            kind="count",
            sortable=True,
            value=lambda a: None if a.nearest_m is None else round(a.nearest_m),
        ),
        Column("coverage_at", "覆盖计算时间", "Coverage computed", kind="datetime"),
    ],
    default_sort="code",
    tiebreak=(PickupArea.id,),
    filename="pickup-areas",
)

POINTS = Listing(
    select(PickupPoint),
    [
        Column("code", "编码", "Code", sortable=True, filter="text"),
        Column("name", "名称", "Name", sortable=True, filter="text"),
        Column(
            "point_type",
            "类型",
            "Type",
            kind="status",
            domain="pickup_points.point_type",
            filter="choice",
            choices=_choices(POINT_TYPE_LABELS),
        ),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", sortable=True),
        Column("county", "区县", "County", show=False),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="pickup_points.point_status",
            filter="choice",
            choices=[s.value for s in PointStatus],
        ),
        Column("agent_fee", "代理费（元/件）", "Agent fee (¥/item)", kind="money", sortable=True),
        Column("opened_on", "开办日期", "Opened", kind="date", sortable=True),
        Column("direct_since", "直投起始", "Direct delivery since", kind="date", sortable=True),
    ],
    default_sort="code",
    tiebreak=(PickupPoint.id,),
    filename="pickup-points",
)


@bp.route("/areas")
def areas() -> Any:
    check_permission(VIEW)
    page = AREAS.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return render_template("pickup_points/areas.html", page=page)


@bp.route("/points")
def points() -> Any:
    check_permission(VIEW)
    page = POINTS.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return render_template(
        "pickup_points/points.html",
        page=page,
        statuses=[s.value for s in PointStatus],
        can_manage=context.principal().can(MANAGE),
    )


@bp.route("/points/<int:point_id>/status", methods=["POST"])
def point_status(point_id: int) -> Any:
    check_permission(MANAGE)
    s = context.session()
    try:
        service.set_status(
            s, point_id, request.form.get("status", ""), clock.today(), context.principal().name
        )
        s.commit()
        flash(_("Status changed."), "ok")
    except PostalOpsError as error:
        s.rollback()
        flash(error.message, "error")
    return redirect(url_for("pickup_points.points"))


# --- siting scenarios (issue 20 §3) ----------------------------------------------------------


def _siting_messages() -> dict[str, str]:
    """The form's error per field, in the user's language (pydantic's own words are English)."""
    return {
        "name": _("At most 200 characters."),
        "k": _("Enter a whole number from 1 to 1000."),
        "existing": _("Choose whether today's points stay."),
        "radius_urban_community_m": _("Enter metres from 0 to 100000."),
        "radius_village_m": _("Enter metres from 0 to 100000."),
        "radius_mailroom_m": _("Enter metres from 0 to 100000."),
        "time_limit_s": _("Enter seconds from 1 to 600."),
        "items_per_household": _("Enter a number from 0 to 10."),
        "new_site_capacity": _("Enter a whole number from 1 to 1000000."),
        "candidates": _("Candidates need id, lon and lat columns, lon and lat as numbers."),
    }


def _siting_page(errors: dict[str, str] | None = None) -> Any:
    s = context.session()
    unit = context.tenant()
    rows = s.exec(
        select(PickupSitingScenario)
        .where(in_scope_clause(PickupSitingScenario.tenant_code, unit))
        .order_by(PickupSitingScenario.created_at.desc(), PickupSitingScenario.id.desc())
    ).all()
    return render_template(
        "pickup_points/siting.html",
        unit=unit,
        scenarios=ListPage(rows, request.args),
        can_manage=context.principal().can(MANAGE),
        errors=errors or {},
        typed=request.form,
    ), (422 if errors else 200)


@bp.route("/siting", methods=["GET", "POST"])
def siting() -> Any:
    """Siting scenarios: the list, and the form that starts one as a tracked job."""
    check_permission(VIEW)
    if request.method == "GET":
        return _siting_page()
    check_permission(MANAGE)
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip()}
    messages = _siting_messages()
    errors: dict[str, str] = {}
    f = request.files.get("file")
    if f is not None and f.filename:
        try:
            rows = read_rows(f.read(), "xlsx" if f.filename.lower().endswith(".xlsx") else "csv")
            form["candidates"] = [
                {
                    "id": str(r.get("id") or n),
                    "lon": float(r["lon"]),
                    "lat": float(r["lat"]),
                    "name": (str(r["name"]) if r.get("name") else None),
                }
                for n, r in rows
            ]
        except (KeyError, ValueError, TypeError, PostalOpsError):
            errors["file"] = messages["candidates"]
    try:
        params = SitingParams.model_validate(form)
    except PydanticError as exc:
        for e in exc.errors():
            field = str(e["loc"][0]) if e.get("loc") else "name"
            key = "file" if field == "candidates" else field
            errors.setdefault(key, messages.get(field, _("Check this value.")))
    if errors:
        return _siting_page(errors)
    try:
        job = submit("pickup_points.siting", params.model_dump(mode="json"))
    except PostalOpsError as error:
        flash(error.message, "error")
        return redirect(url_for("pickup_points.siting"))
    return redirect(url_for("pickup_points.job_progress", job_id=job.id))


@bp.route("/siting/<int:scenario_id>")
def siting_scenario(scenario_id: int) -> Any:
    """One scenario: LSCP, MCLP and the greedy side by side, the map, the chosen sites (to
    accept as planned points) and the capacity check per point."""
    check_permission(VIEW)
    s = context.session()
    try:
        row = service.get_scenario(s, scenario_id)
    except PostalOpsError:
        abort(404)
    result = row.result or {}
    planned = {
        site.candidate_id: (site, point)
        for site, point in s.exec(service.planned_sites_stmt(row.tenant_code, row.id)).all()
    }
    sites = sorted(
        (dict(v, id=k) for k, v in (result.get("sites") or {}).items()),
        key=lambda v: (not v["lscp"], -v["households"], v["id"]),
    )
    capacity = sorted(
        (result.get("capacity") or {}).get("sites", []),
        key=lambda c: (not c["over_capacity"], -float(c["utilisation"] or 0), c["name"]),
    )
    figure = None
    if row.status == "done":
        fig = siting_figure(s, row, is_zh())
        figure = fig.to_html(full_html=False, include_plotlyjs=False, div_id="siting-map")
    return render_template(
        "pickup_points/siting_scenario.html",
        row=row,
        result=result,
        sites=ListPage(sites, request.args, prefix="s_"),
        capacity=ListPage(capacity, request.args, prefix="c_"),
        planned=planned,
        figure=figure,
        categories=AREA_CATEGORY_LABELS,
        can_manage=context.principal().can(MANAGE),
    )


@bp.route("/siting/<int:scenario_id>/accept", methods=["POST"])
def siting_accept(scenario_id: int) -> Any:
    """Accept the ticked sites as planned points (audited)."""
    check_permission(MANAGE)
    from postalops import ui

    s = context.session()
    try:
        row = service.get_scenario(s, scenario_id)
    except PostalOpsError:
        abort(404)
    chosen = request.form.getlist("site")
    if not chosen:
        flash(_("Tick at least one site to accept."), "error")
        return redirect(url_for("pickup_points.siting_scenario", scenario_id=scenario_id))
    page = ui.confirm_first(
        _("The ticked sites are recorded as planned points of this unit."),
        _("Accept as planned points"),
    )
    if page is not None:
        return page
    try:
        added = service.accept_sites(s, row, chosen, context.principal().name)
    except PostalOpsError as error:
        s.rollback()
        flash(error.message, "error")
        return redirect(url_for("pickup_points.siting_scenario", scenario_id=scenario_id))
    flash(_("%(n)s sites accepted as planned points.", n=len(added)), "success")
    return redirect(url_for("pickup_points.siting_scenario", scenario_id=scenario_id))


def _promote_messages() -> dict[str, str]:
    return {
        "name": _("Enter a name of at most 200 characters."),
        "point_type": _("Choose a point type."),
        "operator": _("At most 200 characters."),
        "capacity": _("Enter a whole number of items a day from 0 to 1000000."),
        "code": _("At most 64 characters."),
        "county": _("At most 60 characters."),
    }


@bp.route("/siting/planned/<int:site_id>/promote", methods=["GET", "POST"])
def siting_promote(site_id: int) -> Any:
    """Turn a planned site into a pickup point with status planned (筹建) at its location."""
    check_permission(MANAGE)
    s = context.session()
    try:
        site = service.get_planned_site(s, site_id)
    except PostalOpsError:
        abort(404)
    point = s.get(PickupPoint, site.point_id) if site.point_id is not None else None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and point is None:
        form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip()}
        messages = _promote_messages()
        try:
            body = PromoteIn.model_validate(form)
        except PydanticError as exc:
            for e in exc.errors():
                field = str(e["loc"][0]) if e.get("loc") else "name"
                errors.setdefault(field, messages.get(field, _("Check this value.")))
            body = None
        if body is not None:
            try:
                made = service.promote_site(
                    s, site.id, body, context.principal().name, clock.today()
                )
                s.commit()
                flash(_("Point %(code)s created with status planned.", code=made.code), "success")
                return redirect(
                    url_for("pickup_points.siting_scenario", scenario_id=site.scenario_id)
                    + "#chosen"
                )
            except PostalOpsError as error:
                s.rollback()
                if error.status == 409:  # promoted meanwhile: the page names its point
                    site = service.get_planned_site(s, site_id)
                    point = s.get(PickupPoint, site.point_id) if site.point_id else None
                else:
                    clash = {
                        "code": _("This code is already used by a point of this unit."),
                        "county": _("Neither this unit nor a unit directly below it."),
                    }
                    for d in error.details or []:
                        field = str(d.get("field") or "name")
                        errors.setdefault(field, clash.get(field, str(d.get("message"))))
                    if not errors:
                        flash(error.message, "error")
        status = 422 if errors else 200
    if request.method == "POST" and point is not None and not errors:
        status = 409
    return render_template(
        "pickup_points/siting_promote.html",
        site=site,
        point=point,
        errors=errors,
        typed=request.form if request.method == "POST" else {},
        point_types=[(str(k), zh if is_zh() else en) for k, (zh, en) in POINT_TYPE_LABELS.items()],
    ), status


# --- agent fees (代办费结算) ----------------------------------------------------------------------


def _last_month(today: dt.date) -> str:
    prev = today.replace(day=1) - dt.timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def _month_choices(today: dt.date, n: int = 24) -> list[str]:
    """The current month and the ``n - 1`` before it, newest first (``YYYY-MM``)."""
    out, y, m = [], today.year, today.month
    for _i in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out


@bp.route("/agent-fees")
def agent_fees_page() -> Any:
    """代办费结算: each point's agent fee for a month (last month unless ``?month=YYYY-MM``),
    the same figures and permission as ``GET /api/v1/pickup_points/agent-fees``."""
    from postalops.errors import ValidationError as MonthError

    from . import agent_fees as fees_of

    check_permission(VIEW)
    today = clock.today()
    month = request.args.get("month") or _last_month(today)
    unit = context.tenant()
    try:
        fees = fees_of.month_fees(context.session(), unit, month)
    except MonthError:
        abort(400)
    months = _month_choices(today)
    if month not in months:
        months.append(month)
    first = fees.date_from
    prev_m = _last_month(first)
    nxt = first.replace(day=28) + dt.timedelta(days=4)
    next_m = f"{nxt.year:04d}-{nxt.month:02d}" if nxt <= today else None
    zh = is_zh()
    return render_template(
        "pickup_points/agent_fees.html",
        unit=unit,
        month=month,
        months=months,
        prev_month=prev_m,
        next_month=next_m,
        fees=fees,
        items_total=sum(p.items_total for p in fees.points),
        notes=[n["zh" if zh else "en"] for n in fees_of.notes(fees)],
        group_buy_on=fees.sources.get("ecommerce") == "counted",
    )
