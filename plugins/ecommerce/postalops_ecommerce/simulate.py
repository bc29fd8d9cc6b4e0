"""``postalops simulate`` for e-commerce: the e-shop keeps pushing orders and refunds.

While a campaign runs today (``GET /api/v1/ecommerce/campaigns``), each tick the shop pushes
the retail orders paid since the last one to ``POST /api/v1/ecommerce/orders`` with its token
(``ecommerce.ingest``): at the branches of the campaign's leaders, one to three catalogue
products (``GET /products``) at their agreed prices, more in the evening and at weekends, a
trickle in the small hours. About 3 % of orders get one item refunded through ``POST /events``.

Order and refund numbers are made from the tick's name (``SIM<tick><n>``, ``RF-<order>``), and
the plugin answers a re-sent order ``duplicate`` and a re-sent refund unchanged, so a repeated
tick adds nothing. Amounts are decimal strings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from postalops.simulate import SimulateError, Tick

SHOP = ["ecommerce.ingest", "ecommerce.view"]
PER_MINUTE = 1.0  # retail orders per minute across a live campaign, daytime weekday
REFUND_SHARE = 0.03
CACHE_TTL = 300.0


def hour_factor(at: dt.datetime) -> float:
    """Orders by time of day (online shopping peaks after dinner) and weekday."""
    h = at.hour
    base = 0.15 if h < 7 else 0.5 if h < 9 else 1.0 if h < 19 else 1.6 if h < 23 else 0.4
    return base * (1.35 if at.weekday() >= 5 else 1.0)


def _catalogue(t: Tick, root: str) -> tuple[dict | None, list[str], list[dict]]:
    shop = t.client(root, permissions=SHOP)

    def load() -> tuple[list[dict], list[str], list[dict]]:
        campaigns = shop.get("/ecommerce/campaigns")["items"]
        branches = sorted({ld["tenant_code"] for ld in shop.items("/ecommerce/leaders")})
        products = shop.items("/ecommerce/products")
        return campaigns, branches, products

    campaigns, branches, products = t.cached(f"ecommerce:{root}", CACHE_TTL, load)
    today = t.today.isoformat()
    live = [c for c in campaigns if c["starts_on"] <= today <= c["ends_on"]]
    campaign = max(live, key=lambda c: (c["starts_on"], c["id"])) if live else None
    return campaign, [b for b in branches if t.wants(b)], products


def orders_and_refunds(
    t: Tick, campaign: dict, branches: list[str], products: list[dict]
) -> tuple[list[dict], list[dict]]:
    """This tick's orders and refunds (the same for the same tick)."""
    rng = t.rng("ecommerce")
    count = t.draw("ecommerce:count", t.expected(PER_MINUTE * hour_factor(t.at)))
    orders = []
    for n in range(1, count + 1):
        paid = t.at - dt.timedelta(seconds=rng.uniform(0, t.interval))
        lines = [
            {
                "sku": p["sku"],
                "quantity": rng.choice((1, 1, 1, 2, 2, 3)),
                "unit_price": p["agreed_price"],
            }
            for p in rng.sample(products, k=min(len(products), rng.choice((1, 1, 2, 3))))
        ]
        orders.append(
            {
                "order_no": f"SIM{t.key.replace('T', '')}{n:03d}",
                "channel": "retail",
                "paid_at": paid.replace(microsecond=0).isoformat(),
                "branch": rng.choice(branches),
                "campaign": campaign["code"],
                "lines": lines,
            }
        )
    refunds = []
    picked = rng.sample(
        orders, k=min(len(orders), t.draw("ecommerce:refunds", count * REFUND_SHARE))
    )
    for order in picked:
        refunds.append(
            {
                "type": "refund",
                "order_no": order["order_no"],
                "refund_no": f"RF-{order['order_no']}",
                "amount": str(Decimal(order["lines"][0]["unit_price"]).quantize(Decimal("0.01"))),
                "at": t.at.isoformat(),
            }
        )
    return orders, refunds


def tick(t: Tick) -> dict[str, int]:
    counts = {"orders": 0, "created": 0, "refunds": 0}
    for root in t.roots:
        try:
            campaign, branches, products = _catalogue(t, root)
        except SimulateError as exc:
            if exc.status in (403, 404):  # e-commerce is off there
                continue
            raise
        if campaign is None or not branches or not products:
            continue
        orders, refunds = orders_and_refunds(t, campaign, branches, products)
        if not orders:
            continue
        shop = t.client(root, permissions=SHOP)
        report = shop.post("/ecommerce/orders", orders)
        counts["orders"] += len(orders)
        counts["created"] += int(report.get("created", 0))
        if refunds:
            shop.post("/ecommerce/events", refunds)
            counts["refunds"] += len(refunds)
    return counts
