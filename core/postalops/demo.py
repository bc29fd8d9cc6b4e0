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
    jobs: int = 1,
    app_factory: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Build (or complete) the demo network; a second run adds nothing.

    ``scale`` multiplies the rolling present's volume (:func:`scale`); days already built are
    not rebuilt, so give it on a fresh database.

    ``jobs`` > 1 builds the plugins' demo data in that many worker processes (each plugin's
    build is unchanged and runs whole in one of them, its random numbers seeded by its key, so
    the data are the same as with one process). The workers create their app with
    ``app_factory`` (a picklable callable; by default ``create_app()`` from the environment, as
    the CLI does); on SQLite they take turns at the write lock and compute while the other
    writes."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    progress = progress or (lambda done, total, message="": None)
    token = _SCALE.set(scale)
    try:
        summary = _build_core(app, plugins=plugins, progress=progress)
        keys: list[str] = summary["plugins"]
        total = 2 + len(keys)
        if jobs > 1 and len(keys) > 1:
            _build_plugins_parallel(
                app,
                keys,
                seed=seed,
                scale=scale,
                jobs=jobs,
                progress=progress,
                total=total,
                app_factory=app_factory,
            )
        else:
            for i, key in enumerate(keys, start=2):
                progress(i, total, f"plugin {key}")

                def sub_progress(
                    done: int, sub_total: int, message: str = "", _k: str = key, _i: int = i
                ) -> None:
                    progress(_i, total, f"{_k}: {message} {done}/{sub_total}")

                build_plugin(app, key, seed=seed, progress=sub_progress)
        progress(total, total, "done")
        return summary
    finally:
        _SCALE.reset(token)


def _demo_context(app: Any) -> CallContext:
    return CallContext(
        db=app.extensions["postalops.db"],
        scope=Scope.system_scope(),
        principal=Principal.system("demo"),
        unit=None,
    )


def _build_core(
    app: Any, *, plugins: bool, progress: Callable[[int, int, str], None]
) -> dict[str, Any]:
    """The org tree, the demo users and the group's enablement; committed."""
    reg = app.extensions["postalops.plugins"]
    ctx = _demo_context(app)
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
    summary["plugins"] = demo_plugins
    summary["enabled"] = needed
    summary["left_off"] = [k for k in plugin_keys if k not in needed]
    return summary


def build_plugin(
    app: Any, key: str, *, seed: int, progress: Callable[[int, int, str], None]
) -> None:
    """One plugin's ``postalops_demo`` hook, in its own session, committed; its random numbers
    come from ``seed`` and the key alone, so the result does not depend on what ran before."""
    reg = app.extensions["postalops.plugins"]
    ctx = _demo_context(app)
    with context.activate(ctx):
        s = ctx.session
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        rng = random.Random(f"{seed}:{key}")
        for impl in reg.pm.hook.postalops_demo.get_hookimpls():
            if reg.pm.get_name(impl.plugin) == key:
                args = {"session": s, "units": units, "rng": rng, "progress": progress}
                impl.function(**{a: args[a] for a in impl.argnames})
                s.commit()


def demo_weight(reg: Any, key: str) -> float:
    """A plugin's declared relative cost of its demo build (``PluginInfo.demo_weight``)."""
    info = reg.plugins[key].info if key in reg.plugins else None
    return float(getattr(info, "demo_weight", 1.0) or 1.0)


def _build_plugins_parallel(
    app: Any,
    keys: list[str],
    *,
    seed: int,
    scale: int,
    jobs: int,
    progress: Callable[[int, int, str], None],
    total: int,
    app_factory: Callable[[], Any] | None,
) -> None:
    """Each plugin's demo in one of ``jobs`` worker processes, the heaviest first (longest
    processing time first keeps the two halves even); the first failure stops the others and
    is raised here."""
    import multiprocessing as mp
    import queue as queue_mod

    reg = app.extensions["postalops.plugins"]
    order = sorted(keys, key=lambda k: (-demo_weight(reg, k), k))
    mp_ctx = mp.get_context("spawn")
    todo = mp_ctx.Queue()
    events = mp_ctx.Queue()
    for key in order:
        todo.put(key)
    workers = min(jobs, len(order))
    for _ in range(workers):
        todo.put(None)
    procs = [
        mp_ctx.Process(
            target=_plugin_worker,
            args=(todo, events, seed, scale, app_factory),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    done = 2
    running: dict[str, str] = {}
    failure: tuple[str, Any, str] | None = None
    finished = 0
    try:
        while finished < workers:
            try:
                event = events.get(timeout=1.0)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            kind = event[0]
            if kind == "start":
                running[event[1]] = "start"
            elif kind == "progress":
                _, key, sub_done, sub_total, message = event
                running[key] = f"{message} {sub_done}/{sub_total}"
            elif kind == "done":
                running.pop(event[1], None)
                done += 1
            elif kind == "error":
                failure = (event[1], event[2], event[3])
                break
            elif kind == "exit":
                finished += 1
                continue
            progress(done, total, " · ".join(f"{k}: {m}" for k, m in running.items()))
    finally:
        if failure is not None:
            for proc in procs:
                proc.terminate()
        for proc in procs:
            proc.join(timeout=60)
    if failure is not None:
        key, exc, trace = failure
        if isinstance(exc, BaseException):
            raise exc
        raise RuntimeError(f"the demo of {key} failed:\n{trace}")
    bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if bad or done < total:
        raise RuntimeError(f"a demo worker stopped early (exit codes {bad})")


def _plugin_worker(
    todo: Any, events: Any, seed: int, scale: int, app_factory: Callable[[], Any] | None
) -> None:
    """A worker process of :func:`_build_plugins_parallel`: its own app from the environment;
    on SQLite it waits its turn at the write lock for as long as the other worker holds it."""
    import pickle
    import traceback

    import sqlalchemy as sa

    from .app import create_app

    app = app_factory() if app_factory is not None else create_app()
    engine = app.extensions["postalops.db"].engine
    if engine.dialect.name == "sqlite":

        def patient(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout=3600000")

        sa.event.listen(engine, "connect", patient)
        engine.dispose()
    _SCALE.set(scale)
    try:
        while True:
            key = todo.get()
            if key is None:
                break
            events.put(("start", key))

            def sub_progress(done: int, sub_total: int, message: str = "", _k: str = key) -> None:
                events.put(("progress", _k, done, sub_total, message))

            try:
                build_plugin(app, key, seed=seed, progress=sub_progress)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
                try:
                    pickle.dumps(exc)
                    sent: Any = exc
                except Exception:  # noqa: BLE001 - not picklable: the text is sent instead
                    sent = None
                events.put(("error", key, sent, traceback.format_exc()))
                return
            events.put(("done", key))
    finally:
        events.put(("exit",))


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
