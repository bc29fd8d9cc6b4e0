"""What other plugins see of outcall: creating government-mail orders and their volume."""

import datetime as dt

import pytest
from postalops.errors import ValidationError
from postalops_outcall.testing import GZ
from postalops_outcall.waybill import is_valid_waybill

ORDER = {
    "source": "pickup_points",
    "source_ref": "PP-1",
    "recipient_name": "李娜",
    "phone": "13900001111",
    "address": {
        "province": "广东省",
        "city": "广州市",
        "district": "越秀区",
        "detail": "中山五路1号",
    },
    "category": "营业执照",
}


def test_other_plugins_create_government_mail_through_the_hook_and_see_its_volume(po_app, hall):
    hook = po_app.extensions["postalops.plugins"].pm.hook
    with hall(GZ) as s:
        waybill = hook.postalops_create_delivery_order(session=s, tenant=GZ, order=ORDER)
        again = hook.postalops_create_delivery_order(session=s, tenant=GZ, order=ORDER)
    assert is_valid_waybill(waybill) and again == waybill  # idempotent on (source, source_ref)
    today = dt.datetime.now(dt.UTC).date()
    with hall(GZ) as s:
        volumes = hook.postalops_government_mail(
            session=s,
            tenant="cn.guangdong",
            date_from=today - dt.timedelta(days=1),
            date_to=today + dt.timedelta(days=1),
        )
    assert volumes == [{"orders": 1, "by_unit": {GZ: {"pickup_points": 1}}}]


def test_an_address_that_is_not_an_object_is_refused(po_app, hall):
    hook = po_app.extensions["postalops.plugins"].pm.hook
    with hall(GZ) as s, pytest.raises(ValidationError):
        hook.postalops_create_delivery_order(
            session=s, tenant=GZ, order={**ORDER, "address": "广州市越秀区"}
        )
