"""``postalops simulate`` for lending: borrowers keep repaying their loans.

The bank's repayment channel posts repayments to ``POST /api/v1/lending/loans/<id>/repayments``
with its token (``lending.service``). Each tick brings a few payments (about one every ten
minutes, bank hours 08:30-17:30, Monday to Saturday): a borrower of an active loan of the
simulated units (``GET /loans?status=active``) whose quote for today
(``GET /loans/<id>/quote?on=``) shows an amount due pays it; about one in six pays only half
(a late payer). A loan with nothing due is left alone.

Repayments are dated today, as decimal strings, with the reference ``SIM<tick>-<loan>``. Which
loan pays depends on what is due, which the payment itself changes, so a repeated tick does not
choose again: it re-sends the repayments it sent the first time (kept per tick in this process),
which the plugin recognises by their reference. A repeated tick adds nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from decimal import ROUND_DOWN, Decimal

from postalops.simulate import SimulateError, Tick

CHANNEL = ["lending.service", "lending.view"]
OPEN, CLOSE = dt.time(8, 30), dt.time(17, 30)
PER_MINUTE = 0.1
PARTIAL_SHARE = 0.17
TRIES = 8  # loans looked at per payment before giving up (most have nothing due today)
CACHE_TTL = 300.0
CENT = Decimal("0.01")
KEEP_TICKS = 1000

# (portal, tick) -> the repayments that tick sent: [(root, loan id, body)]
_sent: OrderedDict[tuple[str, str], list[tuple[str, int, dict]]] = OrderedDict()
_lock = threading.Lock()


def _resend(t: Tick, key: tuple[str, str]) -> dict[str, int] | None:
    with _lock:
        sent = _sent.get(key)
    if sent is None:
        return None
    for root, loan_id, body in sent:
        t.client(root, permissions=CHANNEL).post(f"/lending/loans/{loan_id}/repayments", body)
    return {"repayments": 0, "partial": 0, "resent": len(sent)}


def tick(t: Tick) -> dict[str, int]:
    counts = {"repayments": 0, "partial": 0}
    local = t.at.timetz().replace(tzinfo=None)
    if t.at.weekday() == 6 or not OPEN <= local < CLOSE:
        return counts
    payments = t.draw("lending:count", t.expected(PER_MINUTE))
    if not payments:
        return counts
    key = (t.base_url, t.key)
    again = _resend(t, key)
    if again is not None:
        return again
    sent: list[tuple[str, int, dict]] = []
    rng = t.rng("lending")
    for root in t.roots:
        try:
            channel = t.client(root, permissions=CHANNEL)
            loans = t.cached(
                f"lending.loans:{root}",
                CACHE_TTL,
                lambda c=channel: c.items("/lending/loans", status="active"),
            )
        except SimulateError as exc:
            if exc.status in (403, 404):  # lending is off there
                continue
            raise
        loans = [ln for ln in loans if t.wants(ln["tenant_code"])]
        paid: set[int] = set()
        for _ in range(payments):
            for loan in rng.sample(loans, k=min(len(loans), TRIES)):
                if loan["id"] in paid:
                    continue
                quote = channel.get(f"/lending/loans/{loan['id']}/quote", on=t.today.isoformat())
                due = Decimal(str(quote["amount_due"]))
                if due <= 0:
                    continue
                partial = rng.random() < PARTIAL_SHARE
                amount = (due / 2).quantize(CENT, ROUND_DOWN) if partial else due
                if amount <= 0:
                    continue
                body = {
                    "amount": str(amount),
                    "paid_on": t.today.isoformat(),
                    "reference": f"SIM{t.key}-{loan['id']}",
                }
                try:
                    channel.post(f"/lending/loans/{loan['id']}/repayments", body)
                except SimulateError as exc:
                    if exc.status == 409:  # closed meanwhile, or already paid under this name
                        continue
                    raise
                sent.append((root, loan["id"], body))
                paid.add(loan["id"])
                counts["repayments"] += 1
                counts["partial"] += int(partial)
                break
    with _lock:
        _sent[key] = sent
        while len(_sent) > KEEP_TICKS:
            _sent.popitem(last=False)
    return counts
