"""What waits for sorter operators on the workbench (``postalops_tasks``): alerts raised and not
yet acknowledged (by kind, oldest first), and alerts acknowledged but still open. Two grouped
queries over the unit's subtree, linking to the alerts page where they are handled."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.plugins import Task
from sqlmodel import Session

from .alerts import AlertKind, AlertStatus
from .models import Alert

ALERTS = "/p/sorter/alerts"

KIND_WORDS = {
    AlertKind.LOW_THROUGHPUT.value: ("效率偏低", "low throughput"),
    AlertKind.SILENT.value: ("无数据上报", "silent"),
    AlertKind.JAM_SPIKE.value: ("卡件频发", "jam spike"),
    AlertKind.OEE_BELOW_TARGET.value: ("班次OEE未达标", "shift OEE below target"),
}


def _kinds(rows: list[tuple[str, int]], zh: bool) -> str:
    words = []
    for kind, n in sorted(rows, key=lambda r: (-r[1], r[0])):
        word = KIND_WORDS.get(kind, (kind, kind))[0 if zh else 1]
        words.append(f"{word} {n}" if zh else f"{n} {word}")
    return ("、" if zh else ", ").join(words)


def operator_tasks(session: Session, user: Any, unit: str) -> list[Task]:
    """Open alerts of ``unit``'s subtree for a holder of ``sorter.operate``."""
    if not user.can("sorter.operate"):
        return []
    rows = session.execute(
        sa.select(Alert.status, Alert.kind, sa.func.count(), sa.func.min(Alert.raised_at))
        .where(
            in_scope_clause(Alert.tenant_code, unit),
            Alert.status.in_(
                [
                    AlertStatus.RAISED.value,
                    AlertStatus.ESCALATED.value,
                    AlertStatus.ACKNOWLEDGED.value,
                ]
            ),
        )
        .group_by(Alert.status, Alert.kind)
    ).all()
    tasks = []
    for status, key, zh, en, tone in (
        (
            AlertStatus.RAISED.value,
            "acknowledge_alerts",
            "待确认的分拣机告警",
            "Sorter alerts to acknowledge",
            "danger",
        ),
        (
            AlertStatus.ACKNOWLEDGED.value,
            "resolve_alerts",
            "已确认、待处理完毕的告警",
            "Acknowledged alerts still open",
            "info",
        ),
    ):
        # an escalated alert still waits for its first acknowledgement
        mine = [
            (kind, n, first)
            for st, kind, n, first in rows
            if st == status or (st == AlertStatus.ESCALATED.value and status == "raised")
        ]
        if not mine:
            continue
        counts = [(kind, n) for kind, n, _ in mine]
        tasks.append(
            Task(
                key,
                zh,
                en,
                ALERTS,
                count=sum(n for _, n in counts),
                unit="alerts",
                detail_zh=_kinds(counts, True),
                detail_en=_kinds(counts, False),
                since=min(first for _, _, first in mine),
                tone=tone,
            )
        )
    return tasks
