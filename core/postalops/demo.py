"""``postalops demo``: the demo network of ARCHITECTURE.md, deterministic and idempotent.

Builds the org tree and one user per role and level, enables at the group the plugins the demo
needs (those with a ``postalops_demo`` hook, and what they require) and no other, then calls each
plugin's ``postalops_demo`` hook (in plugin-key order).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from sqlmodel import select

from . import clock, context
from .auth import create_user, hash_password
from .context import CallContext, Principal
from .models import OrgUnit, PluginEnablement, User
from .tenancy import Scope

__all__ = [
    "PRESENT_DAYS",
    "present_window",
    "present_days",
    "day_rng",
    "scale",
    "scaled",
]


DEMO_PASSWORD = "postalops-demo"

# The "present" each plugin's demo builds after the article's records: from the day after the
# article's data (or this many days back, whichever is later) up to today in POSTALOPS_TIMEZONE.
PRESENT_DAYS = 90


def present_window(
    article_end: dt.date, today: dt.date | None = None, days: int = PRESENT_DAYS
) -> tuple[dt.date, dt.date]:
    """(first, last) day of the demo's rolling present: the later of the day after
    ``article_end`` and ``today - days + 1``, up to ``today`` (``postalops.clock.today()``).
    Empty (first > last) only if the article ends today or later."""
    last = today or clock.today()
    first = max(article_end + dt.timedelta(days=1), last - dt.timedelta(days=days - 1))
    return first, last


def present_days(
    article_end: dt.date, today: dt.date | None = None, days: int = PRESENT_DAYS
) -> list[dt.date]:
    """Every day of :func:`present_window`, oldest first."""
    first, last = present_window(article_end, today, days)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


_SCALE: ContextVar[int] = ContextVar("postalops_demo_scale", default=1)


def scale() -> int:
    """The volume factor of the demo being built (``postalops demo --scale N``; 1 otherwise).

    Each plugin's builder multiplies its rolling-present volume (orders, cases, scans, items a
    day) by it, so ``--scale 10`` gives ten times the present's rows for benchmarks; the
    article's period is never scaled, so its figures stay exact."""
    return _SCALE.get()


def scaled(count: float) -> float:
    """``count`` times :func:`scale` (a present-day volume of the demo being built)."""
    return count * _SCALE.get()


def day_rng(key: str, day: dt.date) -> random.Random:
    """The rng of one plugin's present-day records for ``day``: the same day always draws the
    same records, whatever day the demo is run on (so a later run only adds the new days)."""
    return random.Random(f"postalops-demo:{key}:{day.isoformat()}")


PROVINCES = [
    ("guangdong", "广东省分公司", "Guangdong"),
    ("henan", "河南省分公司", "Henan"),
    ("hebei", "河北省分公司", "Hebei"),
    ("shanxi", "山西省分公司", "Shanxi"),
    ("zhejiang", "浙江省分公司", "Zhejiang"),
    ("beijing", "北京市分公司", "Beijing"),
    ("xinjiang", "新疆分公司", "Xinjiang"),
]

CITIES: dict[str, list[tuple[str, str, str]]] = {
    "guangdong": [
        ("guangzhou", "广州市分公司", "Guangzhou"),
        ("shenzhen", "深圳市分公司", "Shenzhen"),
    ],
    "henan": [
        ("zhengzhou", "郑州市分公司", "Zhengzhou"),
        ("kaifeng", "开封市分公司", "Kaifeng"),
        ("luoyang", "洛阳市分公司", "Luoyang"),
        ("pingdingshan", "平顶山市分公司", "Pingdingshan"),
        ("anyang", "安阳市分公司", "Anyang"),
        ("hebi", "鹤壁市分公司", "Hebi"),
        ("xinxiang", "新乡市分公司", "Xinxiang"),
        ("jiaozuo", "焦作市分公司", "Jiaozuo"),
        ("puyang", "濮阳市分公司", "Puyang"),
        ("xuchang", "许昌市分公司", "Xuchang"),
        ("luohe", "漯河市分公司", "Luohe"),
        ("sanmenxia", "三门峡市分公司", "Sanmenxia"),
        ("nanyang", "南阳市分公司", "Nanyang"),
        ("shangqiu", "商丘市分公司", "Shangqiu"),
        ("xinyang", "信阳市分公司", "Xinyang"),
        ("zhoukou", "周口市分公司", "Zhoukou"),
        ("zhumadian", "驻马店市分公司", "Zhumadian"),
        ("jiyuan", "济源市分公司", "Jiyuan"),
    ],
    "hebei": [
        ("shijiazhuang", "石家庄市分公司", "Shijiazhuang"),
        ("tangshan", "唐山市分公司", "Tangshan"),
        ("qinhuangdao", "秦皇岛市分公司", "Qinhuangdao"),
        ("handan", "邯郸市分公司", "Handan"),
        ("xingtai", "邢台市分公司", "Xingtai"),
        ("baoding", "保定市分公司", "Baoding"),
        ("zhangjiakou", "张家口市分公司", "Zhangjiakou"),
        ("chengde", "承德市分公司", "Chengde"),
        ("cangzhou", "沧州市分公司", "Cangzhou"),
        ("langfang", "廊坊市分公司", "Langfang"),
        ("hengshui", "衡水市分公司", "Hengshui"),
    ],
    "shanxi": [("linfen", "临汾市分公司", "Linfen")],
    "zhejiang": [("hangzhou", "杭州市分公司", "Hangzhou")],
    "beijing": [("dongcheng", "东城区分公司", "Dongcheng")],
    "xinjiang": [("ili", "伊犁州分公司", "Ili")],
}

# Named stations where the article places work; every other city gets two numbered stations.
STATIONS: dict[str, list[tuple[str, str, str]]] = {
    "cn.henan.zhengzhou": [
        ("jinshui", "金水揽投部", "Jinshui station"),
        ("erqi", "二七揽投部", "Erqi station"),
        ("zhongyuan", "中原揽投部", "Zhongyuan station"),
    ],
    "cn.guangdong.guangzhou": [
        ("tianhe", "天河揽投部", "Tianhe station"),
        ("yuexiu", "越秀揽投部", "Yuexiu station"),
    ],
    "cn.xinjiang.ili": [("yining", "伊宁市支行", "Yining branch")],
}

# Users per role: one at each level where that role works.
USER_LEVELS = [
    ("group", "cn"),
    ("province", "cn.henan"),
    ("city", "cn.henan.zhengzhou"),
    ("city2", "cn.henan.kaifeng"),
]


def org_units() -> list[tuple[str, str | None, str, str, str]]:
    """(code, parent, name_zh, name_en, level) for the whole demo tree, parents first."""
    units = [("cn", None, "中国邮政集团有限公司", "China Post Group", "group")]
    for prov, zh, en in PROVINCES:
        pcode = f"cn.{prov}"
        units.append((pcode, "cn", zh, en, "province"))
        for city, czh, cen in CITIES[prov]:
            ccode = f"{pcode}.{city}"
            units.append((ccode, pcode, czh, cen, "city"))
            stations = STATIONS.get(ccode) or [
                ("station1", f"{czh[:-4]}第一揽投部", f"{cen} station 1"),
                ("station2", f"{czh[:-4]}第二揽投部", f"{cen} station 2"),
            ]
            for scode, szh, sen in stations:
                units.append((f"{ccode}.{scode}", ccode, szh, sen, "station"))
    return units


def _short(code: str) -> str:
    """``cn.hebei`` -> ``hebei``; below a province the province is dropped:
    ``cn.hebei.shijiazhuang.station1`` -> ``shijiazhuang_station1``."""
    tail = code.split(".")[1:] or ["group"]
    return "_".join(tail[1:] if len(tail) > 1 else tail)


def demo_users(registry: Any) -> list[tuple[str, str, str]]:
    """(username, unit, role): ``admin`` at the group, then per role either
    ``<role>_<level>`` at the group, Henan, Zhengzhou and Kaifeng, or, for a role that names its
    ``demo_units``, ``<role>_<short unit name>`` at each of them."""
    out = [("admin", "cn", "admin")]
    roles: dict[str, tuple[str, ...]] = {}
    for r in registry.roles():
        roles[r.name] = tuple(dict.fromkeys(roles.get(r.name, ()) + r.demo_units))
    for role in sorted(roles):
        if roles[role]:
            out.extend((f"{role}_{_short(unit)}", unit, role) for unit in roles[role])
            continue
        for level, unit in USER_LEVELS:
            if role == "admin" and level == "group":
                continue
            out.append((f"{role}_{level}", unit, role))
    return out


def build(
    app: Any,
    *,
    seed: int = 20221017,
    progress: Callable[[int, int, str], None] | None = None,
    plugins: bool = True,
    scale: int = 1,
) -> dict[str, Any]:
    """Build (or complete) the demo network; a second run adds nothing.

    ``scale`` multiplies the rolling present's volume (:func:`scale`); days already built are
    not rebuilt, so give it on a fresh database."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    token = _SCALE.set(scale)
    try:
        return _build(app, seed=seed, progress=progress, plugins=plugins)
    finally:
        _SCALE.reset(token)


def _build(
    app: Any,
    *,
    seed: int,
    progress: Callable[[int, int, str], None] | None,
    plugins: bool,
) -> dict[str, Any]:
    progress = progress or (lambda done, total, message="": None)
    reg = app.extensions["postalops.plugins"]
    db = app.extensions["postalops.db"]
    ctx = CallContext(
        db=db, scope=Scope.system_scope(), principal=Principal.system("demo"), unit=None
    )
    plugin_keys = reg.business_keys()
    demo_plugins = list(plugin_keys) if plugins else []

    total = 2 + len(demo_plugins)
    summary: dict[str, Any] = {}
    with context.activate(ctx):
        s = ctx.session
        progress(0, total, "org tree")
        existing = {u.code for u in s.exec(select(OrgUnit)).all()}
        new_units = [
            OrgUnit(code=c, parent_code=p, name_zh=zh, name_en=en, level=lvl, depth=c.count("."))
            for c, p, zh, en, lvl in org_units()
            if c not in existing
        ]
        s.add_all(new_units)
        s.flush()
        needed = demo_plugins_needed(reg)
        for key in needed:
            if (
                s.exec(
                    select(PluginEnablement).where(
                        PluginEnablement.unit_code == "cn", PluginEnablement.plugin_key == key
                    )
                ).first()
                is None
            ):
                s.add(
                    PluginEnablement(
                        unit_code="cn", plugin_key=key, enabled=True, changed_by="demo"
                    )
                )
        s.commit()
        summary["units_added"] = len(new_units)
        progress(1, total, "users")
        have = set(s.exec(select(User.username)).all())
        added = 0
        # One argon2 hash for the shared demo password: hashing it per user costs minutes.
        shared_hash = hash_password(DEMO_PASSWORD)
        for username, unit, role in demo_users(reg):
            if username not in have and unit in {u.code for u in new_units} | existing:
                create_user(
                    s,
                    reg,
                    username=username,
                    password=DEMO_PASSWORD,
                    unit_code=unit,
                    roles=[role],
                    password_hash=shared_hash,
                )
                added += 1

        s.commit()
        summary["users_added"] = added
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        for i, key in enumerate(demo_plugins, start=2):
            progress(i, total, f"plugin {key}")
            rng = random.Random(f"{seed}:{key}")

            def sub_progress(
                done: int, sub_total: int, message: str = "", _k: str = key, _i: int = i
            ) -> None:
                progress(_i, total, f"{_k}: {message} {done}/{sub_total}")

            for impl in reg.pm.hook.postalops_demo.get_hookimpls():
                if reg.pm.get_name(impl.plugin) == key:
                    args = {"session": s, "units": units, "rng": rng, "progress": sub_progress}
                    impl.function(**{a: args[a] for a in impl.argnames})
                    s.commit()
        progress(total, total, "done")
    summary["plugins"] = demo_plugins
    summary["enabled"] = needed
    summary["left_off"] = [k for k in plugin_keys if k not in needed]
    return summary


def demo_plugins_needed(reg: Any) -> list[str]:
    """The plugins the demo enables at ``cn``: those that add demo data (implement
    ``postalops_demo``) and, transitively, what they require. Any other installed plugin (a
    third-party one, a scaffold being written) stays off until an admin enables it."""
    installed = set(reg.business_keys())
    with_demo = {
        reg.pm.get_name(impl.plugin) for impl in reg.pm.hook.postalops_demo.get_hookimpls()
    }
    needed: set[str] = set()
    todo = [k for k in installed if k in with_demo]
    while todo:
        key = todo.pop()
        if key in needed or key not in installed:
            continue
        needed.add(key)
        info = reg.plugins[key].info
        todo.extend(info.requires if info else ())
    return sorted(needed)
