"""Merchants, products, pavilions and the 三有 readiness of each city."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from postalops.db import check_in_scope, in_scope_clause
from postalops.errors import Conflict, ValidationError
from postalops.money import parse_amount
from sqlmodel import Session, select

from .models import Listing, Merchant, Pavilion, Product, Rollup
from .order_rows import AMOUNT_RULES
from .readiness import Readiness, three_has
from .units import city_of

CATEGORIES = ("meat_egg_dairy", "dried_fruit", "fresh_produce", "seasonings", "grain_oil", "other")


def add_merchant(session: Session, *, unit_code: str, code: str, name: str) -> Merchant:
    check_in_scope(session, unit_code)
    if session.exec(select(Merchant.id).where(Merchant.code == code)).first():
        raise Conflict(f"merchant {code} exists", details=[{"field": "code"}])
    m = Merchant(tenant_code=unit_code, code=code, name=name)
    session.add(m)
    session.flush()
    return m


def product_errors(category: str, agreed_price: object) -> list[dict]:
    """A product's category and agreed price, checked: every problem as ``{field, message}``."""
    errors = []
    if category not in CATEGORIES:
        errors.append({"field": "category", "message": f"one of {', '.join(CATEGORIES)}"})
    try:
        if parse_amount(agreed_price, "agreed_price", **AMOUNT_RULES) <= 0:
            errors.append({"field": "agreed_price", "message": "must be positive"})
    except ValidationError as exc:
        errors.extend(exc.details or [{"field": "agreed_price", "message": exc.message}])
    return errors


def product_price(category: str, agreed_price: object) -> Decimal:
    """The agreed price as money; 422 naming every bad field (see :func:`product_errors`)."""
    errors = product_errors(category, agreed_price)
    if errors:
        raise ValidationError("invalid product", details=errors)
    return parse_amount(agreed_price, "agreed_price", **AMOUNT_RULES)


def add_product(
    session: Session,
    *,
    merchant: Merchant,
    sku: str,
    name: str,
    category: str,
    agreed_price: object,
    featured: bool = False,
) -> Product:
    price = product_price(category, agreed_price)
    if session.exec(select(Product.id).where(Product.sku == sku)).first():
        raise Conflict(f"product {sku} exists", details=[{"field": "sku"}])
    p = Product(
        tenant_code=merchant.tenant_code,
        sku=sku,
        merchant_id=merchant.id,
        name=name,
        category=category,
        agreed_price=price,
        featured=featured,
    )
    session.add(p)
    session.flush()
    return p


def add_pavilion(
    session: Session, *, unit_code: str, code: str, name: str, level: str, operators: list[str]
) -> Pavilion:
    check_in_scope(session, unit_code)
    if level not in ("province", "city"):
        raise ValidationError("level is province or city", details=[{"field": "level"}])
    pav = Pavilion(
        tenant_code=unit_code, code=code, name=name, level=level, operators=list(operators)
    )
    session.add(pav)
    session.flush()
    return pav


def list_products(session: Session, pavilion: Pavilion, product_ids: list[int]) -> int:
    """List products in a pavilion (idempotent); returns how many were new."""
    have = set(
        session.exec(select(Listing.product_id).where(Listing.pavilion_id == pavilion.id)).all()
    )
    new = [pid for pid in product_ids if pid not in have]
    if new:
        session.execute(
            sa.insert(Listing),
            [
                {"tenant_code": pavilion.tenant_code, "pavilion_id": pavilion.id, "product_id": pid}
                for pid in new
            ],
        )
    return len(new)


def readiness(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> list[dict]:
    """三有 for every city in scope with a city pavilion: products listed, operations staff, net
    sales. One row per city: a city with several pavilions has their products (each counted
    once) and their staff (each person once) together, and its sales once."""
    pavilions = session.exec(
        select(Pavilion)
        .where(Pavilion.level == "city", in_scope_clause(Pavilion.tenant_code, tenant))
        .order_by(Pavilion.tenant_code, Pavilion.code)
    ).all()
    lt = Listing.__table__
    listed: dict[int, set[int]] = {}
    for pavilion_id, product_id in session.execute(
        sa.select(lt.c.pavilion_id, lt.c.product_id).where(
            in_scope_clause(lt.c.tenant_code, tenant)
        )
    ).all():
        listed.setdefault(pavilion_id, set()).add(product_id)
    r = Rollup.__table__
    sales = dict(
        session.execute(
            sa.select(r.c.city_code, sa.func.sum(r.c.amount_fen))
            .where(
                in_scope_clause(r.c.tenant_code, tenant), r.c.day >= date_from, r.c.day <= date_to
            )
            .group_by(r.c.city_code)
        ).all()
    )
    by_city: dict[str, list[Pavilion]] = {}
    for pav in pavilions:
        by_city.setdefault(city_of(pav.tenant_code) or pav.tenant_code, []).append(pav)
    out = []
    for city in sorted(by_city):
        group = by_city[city]
        products = set().union(*(listed.get(p.id, set()) for p in group))
        operators = {name for p in group for name in p.operators}
        net = Decimal(sales.get(city) or 0) / 100
        check: Readiness = three_has(len(products), len(operators), net)
        out.append(
            {
                "unit": city,
                "pavilion": " / ".join(p.name for p in group),
                "pavilions": [p.name for p in group],
                "products": len(products),
                "operators": len(operators),
                "net_turnover": net.quantize(Decimal("0.01")),
                "ready": check.ready,
                "missing": check.missing,
            }
        )
    return out
