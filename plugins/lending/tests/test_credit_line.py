"""小微E贷 tax mode: the credit line and the pre-check's recorded rule outcomes."""

from datetime import date
from decimal import Decimal as D

import pytest
from postalops.errors import ValidationError
from postalops_lending.credit_line import TaxModePolicy, TaxMonth, last_12_months, pre_check

POLICY = TaxModePolicy()  # cap 1,000,000; factor 5; A 1.0 / B 0.8 / M 0.6; 24m 0.8 / 36m 1.0
AS_OF = date(2022, 5, 9)


def months(amounts, grade="A", sales=D("100000"), end=date(2022, 4, 1)):
    """Tax months ending with ``end`` (the last full month before AS_OF)."""
    out = []
    y, m = end.year, end.month
    for amount in reversed(amounts):
        out.append(TaxMonth(date(y, m, 1), D(amount), sales, grade))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def check(tax, grade="A", months_in_business=60, requested="866000", operating=True):
    return pre_check(
        POLICY,
        tax_months=months(tax, grade),
        months_in_business=months_in_business,
        business_operating=operating,
        requested_amount=D(requested),
        as_of=AS_OF,
    )


def test_the_oil_seed_traders_line_is_866000():
    # 11 x 14,400 + 14,800 = 173,200 tax paid; x5 = 866,000; grade A x1.0; 60 months x1.0
    result = check(["14400"] * 11 + ["14800"])
    assert result.approved
    assert result.tax_paid_12m == D("173200")
    assert result.credit_line == D("866000")
    assert result.granted_amount == D("866000")
    assert all(o.passed for o in result.outcomes)
    assert {o.rule for o in result.outcomes} == {
        "tax_data_12_months",
        "tax_grade_accepted",
        "months_in_business",
        "tax_paid_12m",
        "business_operating",
        "credit_line_minimum",
    }


@pytest.mark.parametrize(
    ("monthly_tax", "grade", "tenure", "line"),
    [
        # 12 x 16,666.67 = 200,000.04; x5 = 1,000,000.20; x0.8 (B) x0.8 (30m) = 640,000.128 -> 640,000
        ("16666.67", "B", 30, "640000"),
        # 12 x 25,000 = 300,000; x5 = 1,500,000 -> capped at 1,000,000
        ("25000", "A", 48, "1000000"),
        # 12 x 2,777.75 = 33,333; x5 = 166,665; x0.6 (M) x1.0 = 99,999 -> rounded down 99,000
        ("2777.75", "M", 40, "99000"),
        # exactly 24 months is the first band: 12 x 10,000 x5 x1.0 x0.8 = 480,000
        ("10000", "A", 24, "480000"),
        # exactly 36 months reaches the full band: 600,000
        ("10000", "A", 36, "600000"),
    ],
)
def test_credit_line_table(monthly_tax, grade, tenure, line):
    result = check([monthly_tax] * 12, grade, tenure, requested="2000000")
    assert result.approved
    assert result.credit_line == D(line)
    assert result.granted_amount == D(line)  # the request is reduced to the line


@pytest.mark.parametrize(
    ("tax", "grade", "tenure", "operating", "failed"),
    [
        # a refused grade or tenure multiplies the line to 0, below the minimum as well
        (["20000"] * 12, "C", 60, True, ["tax_grade_accepted", "credit_line_minimum"]),
        (["20000"] * 12, "D", 60, True, ["tax_grade_accepted", "credit_line_minimum"]),
        (["20000"] * 12, "A", 23, True, ["months_in_business", "credit_line_minimum"]),
        (["20000"] * 11, "A", 60, True, ["tax_data_12_months"]),
        # 12 x 833.25 = 9,999 < 10,000; line 49,995 -> 49,000 < 50,000 too
        (["833.25"] * 12, "A", 60, True, ["tax_paid_12m", "credit_line_minimum"]),
        # 12 x 1,666.67 = 20,000.04 x5 x0.6 (M) x0.8 (24m) = 48,000.096 -> 48,000 < 50,000
        (["1666.67"] * 12, "M", 24, True, ["credit_line_minimum"]),
        (["20000"] * 12, "A", 60, False, ["business_operating"]),
    ],
)
def test_declined_below_the_thresholds(tax, grade, tenure, operating, failed):
    result = check(tax, grade, tenure, operating=operating)
    assert not result.approved
    assert result.failed_rules == failed
    assert result.credit_line == 0 and result.granted_amount == 0


def test_a_smaller_request_is_granted_as_asked():
    result = check(["14400"] * 11 + ["14800"], requested="300000")
    assert result.credit_line == D("866000")
    assert result.granted_amount == D("300000")


def test_the_window_is_the_12_full_months_before_the_application_month():
    data = months(["1"] * 14, end=date(2022, 5, 1))  # 2021-04 .. 2022-05
    periods = [m.period for m in last_12_months(data, AS_OF)]
    assert min(periods) == date(2021, 5, 1)
    assert max(periods) == date(2022, 4, 1)
    assert len(periods) == 12


def test_a_non_positive_request_is_bad_input():
    with pytest.raises(ValidationError) as err:
        check(["20000"] * 12, requested="0")
    assert err.value.details[0]["field"] == "requested_amount"
