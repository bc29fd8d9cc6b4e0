"""The Hebei "919 电商节" demo, planned as plain values (no database).

The article (DOMAIN.md §5) gives the figures as of 6 Sep 2022; this module lays out merchants,
products, pavilions, leaders, pickup points, sessions and *individual orders* so that the plugin's
own metrics, computed from those orders, reproduce them:

    retail turnover 21.96 M (122 % of an 18 M plan), of which group-buy 19.19 M (240 % of 8 M),
    3,206 valid sessions (107.65 % of 2,978), 4,306 active leaders, 665 active pickup points,
    345,300 orders, 32 ten-thousand-order groups, 27 merchants, 210 products, 160 featured.

The layout (why the numbers add up):
- 5,540 retail-channel orders carry 2.77 M; 339,760 group-buy orders carry 19.19 M.
- 32 big leaders run 2,606 sessions and each collects 10,000+ paid orders (the 万单团);
  600 leaders run one valid session of 10–14 orders; 3,674 leaders run one session of 1–4 orders,
  below the 10-order minimum, so 2,606 + 600 = 3,206 sessions are valid.
- Leader ``i`` uses pickup point ``i % 665``, so exactly 665 points see paid orders. The
  pickup_points plugin's demo creates these points (same codes, same units), so the leaders'
  points are real when that plugin is on.
- On top, 1,200 orders are cancelled and 300 refunded in full (they count nowhere) and 2,000
  counted orders get a partial refund of one item; amounts are chosen so *net* turnover hits the
  figure, which tests that refunds really reduce it.
Everything is drawn from one seeded generator, so a re-run produces identical orders.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from postalops.money import FEN

from .order_rows import SHANGHAI, EventIn, LineIn, OrderIn

CAMPAIGN_CODE = "919"
CAMPAIGN_NAME = "919 电商节"
CAMPAIGN_START = date(2022, 8, 1)
CAMPAIGN_END = date(2022, 9, 19)
AS_OF = date(2022, 9, 6)  # the article's "截至9月6日"
PROVINCE = "cn.hebei"

RETAIL_CHANNEL_NET = Decimal("2770000.00")
GROUPBUY_NET = Decimal("19190000.00")
RETAIL_ORDERS = 5_540
TOTAL_ORDERS = 345_300
BIG_LEADERS = 32
SMALL_VALID_LEADERS = 600
SMALL_INVALID_LEADERS = 3_674
VALID_SESSIONS = 3_206
PICKUP_POINTS = 665
MIN_SESSION_ORDERS = 10
TEN_THOUSAND = 10_000
MERCHANTS = 27
PRODUCTS = 210
FEATURED = 160
CANCELLED_EXTRA = 1_200
FULLY_REFUNDED_EXTRA = 300
PARTIAL_REFUNDS = 2_000

PLAN = {
    "retail_turnover": Decimal("18000000.00"),
    "groupbuy_turnover": Decimal("8000000.00"),
    "valid_sessions": 2_978,
    "active_leaders": 4_000,
    "orders": 300_000,
}
# The retail plan was raised once during the campaign: history is kept, the later one is in force.
EARLIER_RETAIL_PLAN = Decimal("17000000.00")
PLAN_SET_AT = datetime(2022, 7, 25, 9, 0, tzinfo=SHANGHAI)
PLAN_RAISED_AT = datetime(2022, 8, 10, 9, 0, tzinfo=SHANGHAI)

CATEGORIES = {
    "meat_egg_dairy": ["散养柴鸡蛋", "驴肉火烧礼盒", "酱牛肉", "鲜牛奶", "咸鸭蛋", "腊肉"],
    "dried_fruit": ["赞皇大枣", "迁西板栗", "核桃仁", "柿饼", "杏仁", "红枣干"],
    "fresh_produce": ["赵县雪花梨", "深州蜜桃", "宣化牛奶葡萄", "鲜玉米", "小米", "苹果"],
    "seasonings": ["槐茂酱菜", "永年大蒜", "鸡泽辣椒", "香油", "老陈醋", "花椒"],
    "grain_oil": ["黄小米", "荞麦面", "杂粮礼盒", "胡麻油", "燕麦", "绿豆"],
}
MERCHANT_NAMES = [
    "冀农优品",
    "燕赵良仓",
    "太行山货",
    "坝上农庄",
    "滹沱河鲜",
    "渤海渔家",
    "白洋淀特产",
    "燕山果园",
    "衡水湖农品",
    "沧州红枣",
    "邢台山珍",
    "邯郸粮油",
    "承德山庄",
    "张家口杂粮",
    "唐山鲜食",
    "秦皇岛海产",
    "廊坊农场",
    "保定酱菜",
    "石家庄优选",
    "赞皇枣业",
    "迁西栗业",
    "深州桃园",
    "赵州梨园",
    "宣化葡萄",
    "鸡泽辣椒",
    "永年蒜业",
    "河间驴肉",
]


@dataclass(frozen=True)
class Merchant:
    code: str
    name: str


@dataclass(frozen=True)
class Product:
    sku: str
    merchant: str
    name: str
    category: str
    price: Decimal
    featured: bool


@dataclass(frozen=True)
class Pavilion:
    code: str
    unit_code: str
    name: str
    level: str  # "province" | "city"
    skus: tuple[str, ...]
    operators: tuple[str, ...]


@dataclass(frozen=True)
class PickupPoint:
    code: str
    name: str
    branch: str


@dataclass(frozen=True)
class Leader:
    code: str
    name: str
    branch: str
    pickup_point: str


@dataclass(frozen=True)
class Session:
    code: str
    leader: str
    branch: str
    starts_at: datetime
    ends_at: datetime
    skus: tuple[str, ...]
    planned_orders: int


@dataclass(frozen=True)
class TargetPlan:
    unit_code: str
    kind: str
    value: Decimal | int
    effective_from: datetime


@dataclass
class DemoPlan:
    merchants: list[Merchant]
    products: list[Product]
    pavilions: list[Pavilion]
    points: list[PickupPoint]
    leaders: list[Leader]
    sessions: list[Session]
    targets: list[TargetPlan]
    retail_branches: list[str]
    seed: int = 919
    _products_by_sku: dict[str, Product] = field(default_factory=dict, repr=False)

    def iter_orders(self) -> Iterator[tuple[OrderIn, list[EventIn]]]:
        """Every demo order, in a fixed order, with the refund/cancel events that follow it."""
        return _iter_orders(self)


def _days() -> list[date]:
    return [AS_OF - timedelta(days=i) for i in range((AS_OF - CAMPAIGN_START).days, -1, -1)]


def _split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` whole numbers differing by at most one, larger first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _split_money(total: Decimal, parts: int) -> list[Decimal]:
    fen = int(total / FEN)
    return [Decimal(n) * FEN for n in _split(fen, parts)]


def build(branches_by_city: Mapping[str, Sequence[str]], seed: int = 919) -> DemoPlan:
    """Lay out the demo over Hebei's cities and their branches (leaf units, in the given order).

    A city with no branches is used as its own branch.
    """
    rng = random.Random(seed)
    cities = list(branches_by_city)
    branches = [b for c in cities for b in (list(branches_by_city[c]) or [c])]

    merchants = [Merchant(f"HB-M-{i + 1:02d}", name) for i, name in enumerate(MERCHANT_NAMES)]
    products: list[Product] = []
    category_names = list(CATEGORIES)
    for i in range(PRODUCTS):
        category = category_names[i % len(category_names)]
        item = CATEGORIES[category][(i // len(category_names)) % len(CATEGORIES[category])]
        grade = ("", "精选", "礼盒", "家庭装", "尝鲜装", "特级", "有机")[i // 30 % 7]
        # The first 180 are everyday group-buy goods, the last 30 the retail gift boxes.
        cents = rng.randrange(290, 3990, 10) if i < 180 else rng.randrange(12800, 68800, 100)
        products.append(
            Product(
                sku=f"HB-P-{i + 1:04d}",
                merchant=merchants[i % MERCHANTS].code,
                name=f"{grade}{item}",
                category=category,
                price=Decimal(cents) / 100,
                featured=i % 21 < 16,  # 16 of every 21: 160 of 210
            )
        )
    featured = tuple(p.sku for p in products if p.featured)
    pavilions = [
        Pavilion(
            "HB-PAV",
            PROVINCE,
            "河北邮政省级馆",
            "province",
            tuple(p.sku for p in products),
            ("省馆运营一", "省馆运营二"),
        )
    ]
    for n, city in enumerate(cities):
        # The last city has not staffed its pavilion yet, so the 三有 check has something to show.
        operators = () if n == len(cities) - 1 else (f"{city}-运营一", f"{city}-运营二")
        pavilions.append(
            Pavilion(
                f"HB-PAV-{n + 1:02d}",
                city,
                f"{city.split('.')[-1]} 乡村振兴馆",
                "city",
                featured,
                operators,
            )
        )

    points = [
        PickupPoint(f"HB-PP-{k + 1:04d}", f"网点自提点{k + 1:04d}", branches[k % len(branches)])
        for k in range(PICKUP_POINTS)
    ]
    n_leaders = BIG_LEADERS + SMALL_VALID_LEADERS + SMALL_INVALID_LEADERS
    leaders = [
        Leader(
            f"HB-L-{i + 1:05d}",
            f"团长{i + 1:05d}",
            points[i % PICKUP_POINTS].branch,
            points[i % PICKUP_POINTS].code,
        )
        for i in range(n_leaders)
    ]

    groupbuy_orders = TOTAL_ORDERS - RETAIL_ORDERS
    small_valid = [MIN_SESSION_ORDERS + i % 5 for i in range(SMALL_VALID_LEADERS)]
    small_invalid = [1 + i % 4 for i in range(SMALL_INVALID_LEADERS)]
    big_total = groupbuy_orders - sum(small_valid) - sum(small_invalid)
    big_per_leader = _split(big_total, BIG_LEADERS)
    big_sessions = _split(VALID_SESSIONS - SMALL_VALID_LEADERS, BIG_LEADERS)

    days = _days()
    groupbuy_skus = [p.sku for p in products[:180]]
    sessions: list[Session] = []

    def session(leader: Leader, day: date, planned: int) -> None:
        start = datetime.combine(day, time(6, 0), SHANGHAI)
        skus = tuple(rng.sample(groupbuy_skus, 3))
        sessions.append(
            Session(
                f"919-S-{len(sessions) + 1:05d}",
                leader.code,
                leader.branch,
                start,
                start + timedelta(hours=17),
                skus,
                planned,
            )
        )

    for j in range(BIG_LEADERS):
        count = big_sessions[j]
        for s, planned in enumerate(_split(big_per_leader[j], count)):
            session(leaders[j], days[(s * len(days)) // count], planned)
    for i, planned in enumerate(small_valid + small_invalid):
        session(leaders[BIG_LEADERS + i], days[rng.randrange(len(days))], planned)

    targets = [TargetPlan(PROVINCE, "retail_turnover", EARLIER_RETAIL_PLAN, PLAN_SET_AT)]
    for kind, value in PLAN.items():
        at = PLAN_RAISED_AT if kind == "retail_turnover" else PLAN_SET_AT
        targets.append(TargetPlan(PROVINCE, kind, value, at))
        shares = (
            _split_money(value, len(cities))
            if isinstance(value, Decimal)
            else _split(value, len(cities))
        )
        targets += [
            TargetPlan(c, kind, v, PLAN_RAISED_AT) for c, v in zip(cities, shares, strict=True)
        ]

    plan = DemoPlan(
        merchants,
        products,
        pavilions,
        points,
        leaders,
        sessions,
        targets,
        retail_branches=branches,
        seed=seed,
    )
    plan._products_by_sku = {p.sku: p for p in products}
    return plan


class _Tracker:
    """Chooses each order's net amount so the running total lands on the channel's figure."""

    def __init__(self, total: Decimal, orders: int) -> None:
        self.left = total
        self.orders = orders

    def want(self) -> Decimal:
        return self.left / self.orders

    def took(self, net: Decimal) -> None:
        self.left -= net
        self.orders -= 1


def _lines_for(
    want: Decimal, products: Sequence[Product], rng: random.Random, min_qty: int = 1
) -> tuple[LineIn, ...]:
    """One or two lines from ``products`` whose amount comes closest to ``want``."""
    n = len(products)
    first = rng.randrange(n)
    candidates = [products[(first + i) % n] for i in range(min(3, n))]
    lines: list[LineIn] = []
    extra = candidates[-1]
    if len(candidates) > 1 and rng.random() < 0.3 and want > 3 * extra.price:
        lines.append(LineIn(extra.sku, 1, extra.price))
        want -= extra.price
        candidates = candidates[:-1]
    best_gap, best_qty, best = None, 0, candidates[0]
    for p in candidates:
        qty = max(min_qty, min(99, int((want / p.price).to_integral_value())))
        gap = abs(qty * p.price - want)
        if best_gap is None or gap < best_gap:
            best_gap, best_qty, best = gap, qty, p
    lines.insert(0, LineIn(best.sku, best_qty, best.price))
    return tuple(lines)


def _iter_orders(plan: DemoPlan) -> Iterator[tuple[OrderIn, list[EventIn]]]:
    rng = random.Random(plan.seed * 7)
    by_sku = plan._products_by_sku
    leaders = {leader.code: leader for leader in plan.leaders}
    groupbuy = _Tracker(GROUPBUY_NET, TOTAL_ORDERS - RETAIL_ORDERS)
    retail = _Tracker(RETAIL_CHANNEL_NET, RETAIL_ORDERS)
    counted_gb = TOTAL_ORDERS - RETAIL_ORDERS
    # Which group-buy orders (by position) get a partial refund: spread evenly.
    refund_every = counted_gb // PARTIAL_REFUNDS
    position = 0
    seq = 0

    def order_no() -> str:
        nonlocal seq
        seq += 1
        return f"YL2022{seq:07d}"

    def moment(s: Session) -> datetime:
        return s.starts_at + timedelta(
            seconds=rng.randrange(int((s.ends_at - s.starts_at).total_seconds()))
        )

    big_codes = {leader.code for leader in plan.leaders[:BIG_LEADERS]}
    big_sessions = {s.code for s in plan.sessions if s.leader in big_codes}
    extra_total = CANCELLED_EXTRA + FULLY_REFUNDED_EXTRA
    extra_every = max(1, len(big_sessions) // extra_total + 1)
    extra_made = 0

    for s_index, s in enumerate(plan.sessions):
        leader = leaders[s.leader]
        products = [by_sku[sku] for sku in s.skus]
        for _ in range(s.planned_orders):
            position += 1
            refunded = position % refund_every == 0 and position // refund_every <= PARTIAL_REFUNDS
            lines = _lines_for(groupbuy.want(), products, rng, min_qty=2 if refunded else 1)
            order = OrderIn(
                order_no(),
                "groupbuy",
                moment(s),
                lines,
                leader.branch,
                leader.code,
                s.code,
                leader.pickup_point,
                CAMPAIGN_CODE,
            )
            events: list[EventIn] = []
            net = order.amount
            if refunded:
                refund = lines[0].unit_price
                net -= refund
                events.append(
                    EventIn(
                        "refund",
                        order.order_no,
                        order.paid_at + timedelta(days=2),
                        f"RF-{order.order_no}",
                        refund,
                    )
                )
            groupbuy.took(net)
            yield order, events
        # Extra orders that end up counting nowhere, on some big leaders' sessions.
        if s.code in big_sessions and s_index % extra_every == 0:
            per = 3
            for _ in range(per):
                if extra_made >= extra_total:
                    break
                extra_made += 1
                lines = _lines_for(Decimal("50"), products, rng)
                order = OrderIn(
                    order_no(),
                    "groupbuy",
                    moment(s),
                    lines,
                    leader.branch,
                    leader.code,
                    s.code,
                    leader.pickup_point,
                    CAMPAIGN_CODE,
                )
                later = order.paid_at + timedelta(hours=3)
                if extra_made <= CANCELLED_EXTRA:
                    events = [EventIn("cancel", order.order_no, later)]
                else:
                    events = [
                        EventIn(
                            "refund", order.order_no, later, f"RF-{order.order_no}", order.amount
                        )
                    ]
                yield order, events

    gifts = [p for p in by_sku.values() if p.sku >= "HB-P-0181"]
    days = _days()
    for k in range(RETAIL_ORDERS):
        day = days[k * len(days) // RETAIL_ORDERS]
        paid_at = datetime.combine(day, time(8, 0), SHANGHAI) + timedelta(
            seconds=rng.randrange(14 * 3600)
        )
        lines = _lines_for(retail.want(), gifts, rng)
        order = OrderIn(
            order_no(),
            "retail",
            paid_at,
            lines,
            plan.retail_branches[k % len(plan.retail_branches)],
            None,
            None,
            None,
            CAMPAIGN_CODE,
        )
        retail.took(order.amount)
        yield order, []
