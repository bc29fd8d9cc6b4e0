"""Server errors a schemathesis run found in the outcall API (issue 15 §4), through HTTP."""

from __future__ import annotations

from postalops_outcall.testing import GZ


def test_null_settings_leave_them_unchanged_and_null_clears_only_the_webhook(units, make_token):
    api = make_token(GZ, "outcall.manage", "outcall.view")
    url = "/api/v1/outcall/settings"
    set_up = {"max_attempts": 5, "calling_start": "08:30", "webhook_url": "https://ops.example/h"}
    assert api.patch(url, json=set_up).status_code == 200
    before = api.get(url).json
    nulls = {
        "callback_hold_minutes": None,
        "calling_end": None,
        "calling_start": None,
        "claim_minutes": None,
        "max_attempts": None,
        "queue_days": None,
        "retry_delay_minutes": None,
        "waybill_prefix": None,
    }
    resp = api.patch(url, json=nulls)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:800]
    assert resp.json == before  # null means "leave as it is", as in the platform's other PATCHes
    assert api.get(url).json == before
    resp = api.patch(url, json={"webhook_url": None})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:800]
    assert resp.json == {**before, "webhook_url": None}  # the one setting that can be cleared
