"""Finance's one journal: every enabled plugin's journal lines as numbered vouchers (记账凭证).

:func:`collect` is the only reader: ``GET /api/v1/journal``, ``postalops journal export`` and
the finance page all call it, so a voucher has the same number and lines everywhere.

- Each plugin enabled at the tenant answers ``postalops_journal_entries`` through the registry's
  guarded path; a plugin that raises, or answers anything but :class:`JournalLine` entries, is
  marked degraded, named in ``Journal.degraded`` and left out (never a 500).
- Each plugin's hook runs under the caller's scope narrowed for it (``Scope.for_plugin``): its
  queries see no row of a unit where it is switched off. Lines outside the tenant's subtree or
  the asked months, or at a unit where their plugin is switched off, are still dropped: a plugin
  cannot show a caller money of a unit it does not see.
- Lines sharing a plugin and a ``reference`` are one voucher. Its date is its earliest line's,
  its unit the nearest unit holding all its lines (the 核算单位).
- Vouchers are numbered 记-1, 记-2 … per month (会计期间) and unit, in the order (date, plugin,
  reference with numbers compared as numbers). Numbering always runs over whole months, so a
  voucher keeps its number whatever range or tenant above its unit is asked for.
- Account keys become the codes and names in force at each line's unit (:func:`chart_at`: the
  core settings ``/admin/settings/core``, inherited down the tree, defaulting to
  :data:`postalops.journal.DEFAULT_CHART`).
- A voucher that does not balance is kept and flagged (``balanced`` false, ``difference``):
  finance must see it, not lose it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, create_model
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, select

from . import plugin_settings
from .errors import ValidationError
from .journal import DEFAULT_CHART, Account, JournalLine
from .money import ZERO, to_fen
from .tenancy import ancestors, in_subtree

log = logging.getLogger(__name__)

HOOK = "postalops_journal_entries"
VOUCHER_WORD = "记"
"""The voucher word (凭证字) of every exported voucher: 记 (general voucher)."""
SETTINGS_PLUGIN = "core"
"""The core's settings carry the chart mapping (``/admin/settings/core``)."""
MAX_DAYS = 366
"""The longest range one request may ask for (a year, leap day included)."""
CODE_PATTERN = r"^[0-9]{4}(?:\.?[0-9]{2,4}){0,4}$"
"""An account code: four digits, then up to four levels of 2-4 digits, dotted (Kingdee
``2241.01``) or not (Yonyou ``224101``)."""


# --- the per-unit chart (core settings) ------------------------------------------------------


def _chart_model() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for key, acc in DEFAULT_CHART.items():
        fields[f"{key}_code"] = (
            str,
            Field(
                acc.code,
                title=f"{acc.name_en}: account code",
                pattern=CODE_PATTERN,
                max_length=24,
                json_schema_extra=plugin_settings.label(
                    f"{acc.name_zh}：科目代码",
                    f"账户键 {key} 映射到的科目代码，如 {acc.code}（4 位一级科目，下级每级 2-4 位）",
                    f"the account code key {key} books to, e.g. {acc.code}",
                ),
            ),
        )
        fields[f"{key}_name"] = (
            str,
            Field(
                acc.name_zh,
                title=f"{acc.name_en}: account name",
                min_length=1,
                max_length=60,
                pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$",
                json_schema_extra=plugin_settings.label(
                    f"{acc.name_zh}：科目名称",
                    "导出凭证中显示的科目名称",
                    "the account name shown in exported vouchers",
                ),
            ),
        )
    return create_model("JournalChartSettings", **fields)  # type: ignore[call-overload]


ChartSettings = _chart_model()
"""The core's settings model: for every key of :data:`DEFAULT_CHART`, ``<key>_code`` and
``<key>_name``, defaulting to the default chart."""


def chart_at(session: Session, unit: str) -> dict[str, Account]:
    """key -> :class:`Account` in force at ``unit`` (its own mapping, else inherited, else the
    default chart)."""
    return charts_at(session, [unit])[unit]


def charts_at(session: Session, units: Iterable[str]) -> dict[str, dict[str, Account]]:
    """:func:`chart_at` for many units, reading the stored mappings once (a province's journal
    has lines at hundreds of stations)."""
    from .models import PluginSetting

    rows = session.exec(
        select(PluginSetting.unit_code, PluginSetting.values).where(
            PluginSetting.plugin_key == SETTINGS_PLUGIN
        )
    ).all()
    by_unit = {code: dict(values or {}) for code, values in rows}
    out: dict[str, dict[str, Account]] = {}
    by_chain: dict[tuple[str, ...], dict[str, Account]] = {}
    for unit in units:
        # the units above (and at) ``unit`` that set something, group first
        chain = tuple(c for c in reversed(ancestors(unit)) if c in by_unit)
        if chain not in by_chain:
            merged: dict[str, Any] = {}
            for code in chain:
                merged.update(
                    {k: v for k, v in by_unit[code].items() if k in ChartSettings.model_fields}
                )
            try:
                model = ChartSettings.model_validate(merged)
            except PydanticValidationError as exc:
                # values a newer chart refuses: name them rather than guess
                raise ValidationError(
                    f"stored chart of accounts is no longer valid at {unit}",
                    code="invalid_settings",
                    details=[
                        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                        for e in exc.errors()
                    ],
                ) from exc
            by_chain[chain] = {
                key: Account(
                    getattr(model, f"{key}_code"), getattr(model, f"{key}_name"), acc.name_en
                )
                for key, acc in DEFAULT_CHART.items()
            }
        out[unit] = by_chain[chain]
    return out


# --- the journal -----------------------------------------------------------------------------


@dataclass
class VoucherLine:
    """One entry (分录) of a voucher, mapped to the unit's account."""

    line_no: int
    date: dt.date
    account: str
    code: str
    name: str
    debit: Decimal
    credit: Decimal
    unit: str
    memo: str

    def as_json(self) -> dict[str, Any]:
        return {
            "line_no": self.line_no,
            "date": self.date.isoformat(),
            "account": self.account,
            "code": self.code,
            "name": self.name,
            "debit": str(self.debit),
            "credit": str(self.credit),
            "unit": self.unit,
            "memo": self.memo,
        }


@dataclass
class Voucher:
    """A voucher (记账凭证): the lines of one plugin sharing a reference."""

    plugin: str
    reference: str
    date: dt.date
    unit: str
    lines: list[VoucherLine]
    number: int = 0

    @property
    def period(self) -> str:
        return f"{self.date.year:04d}-{self.date.month:02d}"

    @property
    def debit(self) -> Decimal:
        return sum((ln.debit for ln in self.lines), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((ln.credit for ln in self.lines), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.debit - self.credit

    @property
    def balanced(self) -> bool:
        return self.difference == 0

    @property
    def memo(self) -> str:
        return self.lines[0].memo if self.lines else ""

    @property
    def label(self) -> str:
        """``记-12``: the voucher word and number, as finance writes it."""
        return f"{VOUCHER_WORD}-{self.number}"

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "word": VOUCHER_WORD,
            "number": self.number,
            "date": self.date.isoformat(),
            "unit": self.unit,
            "plugin": self.plugin,
            "reference": self.reference,
            "memo": self.memo,
            "debit": str(self.debit),
            "credit": str(self.credit),
            "difference": str(self.difference),
            "balanced": self.balanced,
            "lines": [ln.as_json() for ln in self.lines],
        }


@dataclass
class PeriodTotal:
    """Debits and credits of the shown vouchers of one month."""

    period: str
    vouchers: int = 0
    unbalanced: int = 0
    debit: Decimal = ZERO
    credit: Decimal = ZERO

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit and not self.unbalanced

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "vouchers": self.vouchers,
            "unbalanced": self.unbalanced,
            "debit": str(self.debit),
            "credit": str(self.credit),
            "balanced": self.balanced,
        }


@dataclass
class Journal:
    """The vouchers of ``tenant``'s subtree dated ``date_from``..``date_to``."""

    tenant: str
    date_from: dt.date
    date_to: dt.date
    vouchers: list[Voucher]
    degraded: list[dict[str, str]] = field(default_factory=list)

    @property
    def periods(self) -> list[PeriodTotal]:
        out: dict[str, PeriodTotal] = {}
        for v in self.vouchers:
            p = out.setdefault(v.period, PeriodTotal(v.period))
            p.vouchers += 1
            p.unbalanced += 0 if v.balanced else 1
            p.debit += v.debit
            p.credit += v.credit
        return [out[k] for k in sorted(out)]

    @property
    def totals(self) -> PeriodTotal:
        t = PeriodTotal("all")
        for p in self.periods:
            t.vouchers += p.vouchers
            t.unbalanced += p.unbalanced
            t.debit += p.debit
            t.credit += p.credit
        return t

    def as_json(self, vouchers: list[Voucher] | None = None) -> dict[str, Any]:
        totals = self.totals.as_json()
        totals.pop("period")
        return {
            "tenant": self.tenant,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "totals": totals,
            "periods": [p.as_json() for p in self.periods],
            "degraded": self.degraded,
            "items": [v.as_json() for v in (self.vouchers if vouchers is None else vouchers)],
        }


def check_range(date_from: dt.date, date_to: dt.date, prefix: str = "") -> None:
    """422 naming ``from`` when it is after ``to``, ``to`` when the range is over a year."""
    if date_from > date_to:
        raise ValidationError(
            "from is after to", details=[{"field": f"{prefix}from", "message": "after 'to'"}]
        )
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise ValidationError(
            f"at most {MAX_DAYS} days at a time",
            code="range_too_long",
            details=[{"field": f"{prefix}to", "message": f"more than {MAX_DAYS} days after from"}],
        )


def _month_span(date_from: dt.date, date_to: dt.date) -> tuple[dt.date, dt.date]:
    last = calendar.monthrange(date_to.year, date_to.month)[1]
    return date_from.replace(day=1), date_to.replace(day=last)


_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[Any, ...]:
    """``payroll:run:9`` before ``payroll:run:12``."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(text) if p)


def _common_unit(units: list[str]) -> str:
    """The nearest unit holding all of ``units`` (their longest common code path)."""
    chains = [ancestors(u) for u in units]
    common = chains[0]
    for chain in chains[1:]:
        common = [c for c in common if c in chain]
    return common[0] if common else units[0]


def _answers(
    registry: Any, session: Session, tenant: str, span: tuple[dt.date, dt.date]
) -> tuple[dict[str, list[JournalLine]], list[dict[str, str]]]:
    enabled = registry.effective(session, tenant)
    answered: dict[str, list[JournalLine]] = {}
    for key, answer in registry.call_each(
        HOOK,
        only=enabled,
        scopes=registry.hook_scopes(session),  # each plugin cut where it is off
        session=session,
        tenant=tenant,
        date_from=span[0],
        date_to=span[1],
    ):
        if registry.is_builtin(key) or key not in enabled:
            continue
        try:
            if not isinstance(answer, list | tuple):
                raise TypeError(f"{HOOK} must return a list, not {type(answer).__name__}")
            bad = [type(x).__name__ for x in answer if not isinstance(x, JournalLine)]
            if bad:
                raise TypeError(f"{HOOK} must return JournalLine entries, not {bad[0]}")
        except TypeError as exc:  # a malformed answer is a failure of the hook
            registry.record_failure(key, HOOK, exc)
            continue
        answered[key] = list(answer)
    degraded = []
    for key in sorted(enabled - set(answered)):
        plugin = registry.plugins.get(key)
        failure = plugin.failures.get(HOOK) if plugin is not None else None
        if failure is not None:
            degraded.append({"plugin": key, "error": failure.error})
    return answered, degraded


def number_vouchers(
    grouped: Mapping[tuple[str, str], list[JournalLine]],
    charts: Mapping[str, Mapping[str, Account]],
) -> list[Voucher]:
    """Vouchers of ``{(plugin, reference): lines}`` with each line's account mapped by
    ``charts[unit][key]``, numbered from 1 per month and unit in the order (date, plugin,
    reference with numbers compared as numbers); the result does not depend on the order of
    ``grouped`` or of the lines (a pure function: no session, no plugin)."""
    vouchers = []
    for (key, ref), lines in grouped.items():
        mapped = [(ln, charts[ln.unit][ln.account]) for ln in lines]
        # debits first, then by code: the order finance reads (and stable whatever the plugin's)
        mapped.sort(
            key=lambda m: (
                0 if m[0].debit else 1,
                m[1].code,
                m[0].unit,
                m[0].memo,
                -(m[0].debit + m[0].credit),
                m[0].date,
                m[0].account,
            )
        )
        out_lines = [
            VoucherLine(
                i,
                ln.date,
                ln.account,
                acc.code,
                acc.name_zh,
                to_fen(ln.debit),  # 0.00, not 0: every amount written to the fen
                to_fen(ln.credit),
                ln.unit,
                ln.memo,
            )
            for i, (ln, acc) in enumerate(mapped, 1)
        ]
        vouchers.append(
            Voucher(
                plugin=key,
                reference=ref,
                date=min(ln.date for ln in lines),
                unit=_common_unit(sorted({ln.unit for ln in lines})),
                lines=out_lines,
            )
        )
    vouchers.sort(
        key=lambda v: (v.period, v.unit, v.date, v.plugin, _natural(v.reference), v.reference)
    )
    counters: dict[tuple[str, str], int] = defaultdict(int)
    for v in vouchers:
        counters[(v.period, v.unit)] += 1
        v.number = counters[(v.period, v.unit)]
    return vouchers


def collect(
    registry: Any, session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> Journal:
    """The numbered, mapped vouchers of ``tenant``'s subtree dated ``date_from``..``date_to``
    (inclusive local dates, at most :data:`MAX_DAYS`), from every plugin enabled there."""
    check_range(date_from, date_to)
    span = _month_span(date_from, date_to)
    answered, degraded = _answers(registry, session, tenant, span)

    grouped: dict[tuple[str, str], list[JournalLine]] = defaultdict(list)
    enabled_at: dict[str, set[str]] = {}

    def on_at(unit: str, key: str) -> bool:
        # a plugin switched off below the tenant (a city) books nothing there
        if unit not in enabled_at:
            enabled_at[unit] = registry.effective(session, unit)
        return key in enabled_at[unit]

    for key, lines in answered.items():
        dropped = 0
        for line in lines:
            if (
                not in_subtree(line.unit, tenant)
                or not span[0] <= line.date <= span[1]
                or not on_at(line.unit, key)
            ):
                dropped += 1
                continue
            grouped[(key, line.reference)].append(line)
        if dropped:
            log.info(
                "journal: %d line(s) of %s outside %s, the months asked or where it is on",
                dropped,
                key,
                tenant,
            )

    charts = charts_at(session, {ln.unit for lines in grouped.values() for ln in lines})
    vouchers = number_vouchers(grouped, charts)
    shown = [v for v in vouchers if date_from <= v.date <= date_to]
    shown.sort(key=lambda v: (v.date, v.unit, v.number))
    return Journal(tenant, date_from, date_to, shown, degraded)


# --- export ----------------------------------------------------------------------------------

EXPORT_COLUMNS: list[tuple[str, str]] = [
    ("凭证日期", "date"),
    ("会计年度", "count"),
    ("会计期间", "count"),
    ("凭证字", "text"),
    ("凭证号", "count"),
    ("分录号", "count"),
    ("摘要", "text"),
    ("科目代码", "text"),
    ("科目名称", "text"),
    ("借方金额", "amount"),
    ("贷方金额", "amount"),
    ("核算单位代码", "text"),
    ("核算单位", "text"),
    ("部门代码", "text"),
    ("部门", "text"),
    ("参考号", "text"),
    ("来源", "text"),
]
"""The export layout (docs/finance.md): one row per voucher line, header in Chinese."""


def _unit_names(session: Session, codes: set[str]) -> dict[str, str]:
    from .models import OrgUnit

    if not codes:
        return {}
    rows = session.exec(
        select(OrgUnit.code, OrgUnit.name_zh).where(OrgUnit.code.in_(sorted(codes)))  # type: ignore[attr-defined]
    ).all()
    return {code: name for code, name in rows}


def export_rows(session: Session, journal: Journal) -> list[list[Any]]:
    """Rows of :data:`EXPORT_COLUMNS`: amounts as ``Decimal`` (numbers), dates as dates."""
    codes = {v.unit for v in journal.vouchers} | {
        ln.unit for v in journal.vouchers for ln in v.lines
    }
    names = _unit_names(session, codes)
    rows = []
    for v in journal.vouchers:
        for ln in v.lines:
            rows.append(
                [
                    v.date,
                    v.date.year,
                    v.date.month,
                    VOUCHER_WORD,
                    v.number,
                    ln.line_no,
                    ln.memo,
                    ln.code,
                    ln.name,
                    ln.debit,
                    ln.credit,
                    v.unit,
                    names.get(v.unit, v.unit),
                    ln.unit,
                    names.get(ln.unit, ln.unit),
                    v.reference,
                    v.plugin,
                ]
            )
    return rows


def export_bytes(session: Session, journal: Journal, fmt: str) -> tuple[bytes, str]:
    """``(data, mimetype)`` of the journal as ``csv`` (UTF-8 with a BOM, amounts ``1234.50``)
    or ``xlsx`` (amounts stored as numbers ``#,##0.00``, dates as dates)."""
    from .listing import to_csv

    header = [h for h, _ in EXPORT_COLUMNS]
    kinds = [k for _, k in EXPORT_COLUMNS]
    rows = export_rows(session, journal)
    if fmt == "xlsx":
        return (
            _xlsx(header, kinds, rows),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if fmt == "csv":
        return to_csv(header, kinds, rows), "text/csv; charset=utf-8"
    raise ValidationError(
        "format must be csv or xlsx", details=[{"field": "format", "message": "csv | xlsx"}]
    )


def _xlsx(header: list[str], kinds: list[str], rows: list[list[Any]]) -> bytes:
    """:func:`postalops.listing.to_xlsx` (numbers as numbers), with amounts as plain
    ``#,##0.00`` (no currency sign: import tools read the cell's number either way)."""
    from .listing import to_xlsx

    return to_xlsx(
        header,
        kinds,
        rows,
        sheet="记账凭证",
        formats={"amount": "#,##0.00", "count": "0", "date": "yyyy-mm-dd"},
    )


def filename(journal: Journal, fmt: str) -> str:
    """``journal-cn.henan-2022-09-01-2022-09-30.xlsx``."""
    return (
        f"journal-{journal.tenant}-{journal.date_from.isoformat()}-"
        f"{journal.date_to.isoformat()}.{fmt}"
    )
