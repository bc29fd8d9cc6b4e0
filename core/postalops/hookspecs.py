"""The whole plugin contract: every hook a PostalOps plugin may implement.

Implement a hook by defining a function of the same name in your plugin module, decorated with
``postalops.hookimpl``; you may accept any subset of the listed arguments. docs/plugins.md is the
long reference (a test fails when a hook here is missing there or documented with another
signature). Do not depend on call order across plugins; pluggy calls newest-registered first.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("postalops")


@hookspec
def postalops_plugin_info():
    """Called once at boot. Return this plugin's :class:`postalops.plugins.PluginInfo`.

    Example: ``return PluginInfo(key="payroll", name_zh="计件工资", name_en="Piece-rate pay",
    version="0.1.0", requires={"pickup_points": ">=0.1"})``
    """


@hookspec
def postalops_blueprints(app):
    """Called once at boot, before the first request. Return a list of Flask blueprints.

    A :class:`postalops.api.ApiBlueprint` is mounted at ``/api/v1/<key>`` and listed in the
    OpenAPI document; any other blueprint is the plugin's UI under ``/p/<key>``. The core answers
    404 on both for tenants where the plugin is disabled.
    """


@hookspec
def postalops_roles():
    """Called at boot. Return extra :class:`postalops.plugins.Role` objects this plugin needs.

    Example: ``return [Role("courier", "揽投员", "Courier")]``
    """


@hookspec
def postalops_permissions():
    """Called at boot. Return the :class:`postalops.plugins.Permission` strings this plugin defines,
    each with the roles granted it by default.

    Example: ``return [Permission("payroll.run", "运行工资核算", "Run payroll", roles=("hr",))]``
    """


@hookspec
def postalops_nav_items():
    """Called per portal page render. Return :class:`postalops.plugins.NavItem` entries; the core
    shows them only where the plugin is enabled and the user holds ``permission``.

    Example: ``return [NavItem("出件外呼", "Outcall", "/p/outcall/", permission="outcall.view")]``
    """


@hookspec
def postalops_actors():
    """Called once when the broker is configured. Return functions decorated with
    :func:`postalops.jobs.job`; the core turns them into Dramatiq actors on the configured broker.

    Example: ``return [run_payroll]``
    """


@hookspec
def postalops_schedules():
    """Called by ``postalops scheduler`` at start. Return :class:`postalops.plugins.Schedule`
    entries (a cron expression and the job kind to send) for periodic work.

    Example: ``return [Schedule("sorter.rollup", "sorter.rollup", cron="*/5 * * * *")]``
    """


@hookspec
def postalops_migrations():
    """Called by ``postalops db`` commands. Return the path of this plugin's Alembic versions
    folder (its own branch labelled with the plugin key), or None.

    Example: ``return str(Path(__file__).parent / "migrations" / "versions")``
    """


@hookspec
def postalops_metrics(session, tenant, date_from, date_to):
    """Called for ``GET /api/v1/metrics``, ``postalops metrics`` and dashboards, only when the
    plugin is enabled for ``tenant`` (a unit code). ``session`` is scoped to the caller and
    cut for your plugin (units below where it is off are out of reach);
    ``date_from``/``date_to`` are inclusive ``datetime.date``. Return
    ``{"<kpi>": {"value": <number or decimal string>, "unit": str, "label_zh": str,
    "label_en": str}}``; rates are fractions (0.54).

    Example: ``return {"calls": kpi(2500, "call", "外呼量", "Calls")}``
    """


@hookspec
def postalops_dashboard_pages(dash_app):
    """Called once after the Dash app is created. Return
    :class:`postalops.plugins.DashboardPage` entries; register their callbacks on ``dash_app``
    (never the global ``dash.callback``). Pages of plugins disabled for the viewer are hidden.

    Example: ``return [DashboardPage("sorter", "分拣机", "Sorters", layout)]``
    """


@hookspec
def postalops_demo(session, units, rng, progress):
    """Called by ``postalops demo`` after the org tree and users exist (system scope).
    ``units`` maps unit code -> :class:`postalops.models.OrgUnit`; ``rng`` is a seeded
    ``random.Random``; call ``progress(done, total, message)`` as you go. Must be idempotent
    (a re-run adds nothing) and write in batches through the plugin's own services.
    Return nothing.

    Example: ``for code in [c for c in units if c.startswith("cn.henan.")]:
    service.add_demo_points(session, code, rng)``
    """


@hookspec
def postalops_simulators():
    """Called by ``postalops simulate`` (and the job ``serve`` starts in the embedded mode).
    Return a list of :class:`postalops.simulate.Simulator`: each ``tick(t)`` makes the calls the
    plugin's machines and partners would make at ``t.at``, through the plugin's public API with
    ``t.client(unit, role=...)`` (a bearer token), and returns counts of what it sent. Idempotent
    per ``t.key``; only records of ``t.at``'s day.

    Example: ``return [Simulator("sorter", simulate.tick)]``
    """


@hookspec
def postalops_tenant_enabled(session, unit_code, plugin_key):
    """Called after any plugin is switched on for a unit (including this one). Return nothing.

    Example: ``if plugin_key == "outcall": service.seed_catalogue(session, unit_code)``
    """


@hookspec
def postalops_tenant_disabled(session, unit_code, plugin_key):
    """Called after any plugin is switched off for a unit. Return nothing.

    Example: ``if plugin_key == "sorter": service.pause_alerts(session, unit_code)``
    """


@hookspec
def postalops_health():
    """Called by ``/healthz``. Return ``{"<check>": "ok" | "<problem>"}`` for this plugin.

    Example: ``return {"stale_devices": "ok" if not stale else f"{len(stale)} silent"}``
    """


@hookspec
def postalops_active_pickup_points(session, tenant):
    """Cross-plugin: return the active pickup points of ``tenant``'s subtree as dicts with at
    least ``code``, ``name``, ``kind``, ``tenant_code``, ``lat``, ``lon``. Implemented by
    ``pickup_points``; read by ``ecommerce`` and ``payroll`` without importing it.

    Example: ``return [{"code": p.code, "name": p.name, ...} for p in active_points(session)]``
    """


@hookspec(firstresult=True)
def postalops_create_delivery_order(session, tenant, order):
    """Cross-plugin: create a delivery order (government mail to a door) and return its
    reference string, or None when no delivery plugin is installed. ``order`` is a dict with
    ``source``, ``source_ref``, ``recipient_name``, ``phone``, ``address``, ``category``.
    First non-None result wins.

    Example: ``return service.create_order(session, tenant, order).waybill``
    """


@hookspec
def postalops_status_labels():
    """Called once at boot. Return ``{domain: {value: postalops.ui.Status}}``: the zh and en
    label and the tone (colour and icon) of each value of this plugin's enums, so the
    ``status_badge`` macro never shows a raw value. Name domains after the plugin
    (``"payroll.run"``); an unlabelled value renders as a neutral, humanised badge and is logged.

    Example: ``return {"payroll.run": {"draft": Status("草稿", "Draft", "neutral"),
    "approved": Status("已审批", "Approved", "success")}}``
    """


@hookspec
def postalops_app_created(app):
    """Called once at the end of ``create_app``, after every blueprint is registered. For
    extensions that mount on the Flask server itself (the dashboard host). Return nothing.

    Example: ``create_dash(app)``
    """


@hookspec
def postalops_tasks(session, user, unit):
    """Called for the workbench (工作台, the portal home ``/``) of ``user`` (a
    :class:`postalops.context.Principal`: ``name``, ``user_id``, ``roles``, ``can(perm)``) at the
    active ``unit`` (a unit code), only when the plugin is enabled there and the user holds its
    view permission (the permission of its main nav entry). ``session`` is scoped to the user
    and cut for your plugin;
    on PostgreSQL each plugin runs in its own SAVEPOINT, and a plugin that raises is marked
    degraded and left out of the inbox. Return :class:`postalops.plugins.Task` entries for what
    waits for this user (check the permission of the action yourself), or nothing. Keep it to a
    few aggregate queries: it runs on every home page view.

    Example: ``return [Task("approve_runs", "待审批工资", "Payroll runs to approve",
    "/p/payroll/runs/7", count=1, unit="runs", since=run.computed_at)] if user.can("payroll.approve")
    else []``
    """


@hookspec
def postalops_government_mail(session, tenant, date_from, date_to):
    """Cross-plugin (implemented by ``outcall``): government-mail orders created in ``tenant``'s
    subtree on the inclusive local dates. Return
    ``{"orders": int, "by_unit": {unit_code: {source: int}}}``; sources are ``"outcall"``
    (converted window pickups) and ``"hall"`` (mailed by a hall).

    Example: ``return service.government_mail_volume(session, tenant, date_from, date_to)``
    """


@hookspec(firstresult=True)
def postalops_pickup_point_state(session, tenant, code, day):
    """Cross-plugin (implemented by ``pickup_points``): a pickup point's
    ``{"code", "tenant_code", "day", "kind", "status"}`` on ``day`` (a ``datetime.date``).
    Return None when no such point existed then in ``tenant``'s subtree.

    Example: ``return history.state_on(session, code, day)``
    """


@hookspec
def postalops_settings_schema():
    """Called when settings are read or shown (the settings page and API). Return a
    :class:`postalops.plugins.SettingsSchema`: a pydantic model whose fields are this plugin's
    settings (defaults and validation; ``title`` and ``json_schema_extra={"label_zh": ...}`` label
    the form), with the permissions to view and to change them. The core stores the values per
    unit, a unit inheriting what it does not set from above, and serves them at
    ``/admin/settings/<key>`` and ``GET/PUT /api/v1/settings/<key>``. Read them in plugin code with
    ``postalops.plugin_settings.values(session, key, unit, Model)``.

    Example: ``return SettingsSchema(QueueSettings, view_permission="outcall.view",
    edit_permission="outcall.manage")``
    """


@hookspec
def postalops_journal_entries(session, tenant, date_from, date_to):
    """Called for ``GET /api/v1/journal``, ``postalops journal export`` and the finance page,
    only when the plugin is enabled for ``tenant``. Return the
    :class:`postalops.journal.JournalLine` entries of the money this plugin moved in
    ``tenant``'s subtree on the inclusive local dates ``date_from``..``date_to``; lines sharing a
    ``reference`` form one voucher and must balance. Accounts are keys of
    ``postalops.journal.DEFAULT_CHART``; the core maps them to each unit's codes.

    Example: ``return [JournalLine(day, "selling_expenses", gross, ZERO, unit, ref, "9月工资"),
    JournalLine(day, "payroll_payable", ZERO, gross, unit, ref, "9月工资")]``
    """


@hookspec
def postalops_picked_up_items(session, tenant, date_from, date_to):
    """Cross-plugin (implemented by ``ecommerce``, read by ``pickup_points`` for its agent fee
    through :func:`postalops.plugins.picked_up_items`): items picked up at pickup points of
    ``tenant``'s subtree on the inclusive local dates. Called only where the plugin is
    enabled, with ``session`` cut for it like the other data hooks. Return a list of
    ``{"pickup_point": code, "unit": unit_code, "day": datetime.date, "items": int}``, one per
    point, unit and day (ecommerce: one item per verified group-buy order).

    Example: ``return [{"pickup_point": "PP-1", "unit": branch, "day": day, "items": 3}]``
    """
