"""From gross to net by hand (issue 19 §1): statutory deductions and the cumulative withholding
of individual income tax (累计预扣法) over a full year for four couriers, one crossing from the
3 % into the 10 % bracket in April, one into 20 % in May.

Annual table: 3 % up to 36,000; 10 % to 144,000 (quick deduction 2,520); 20 % to 300,000
(16,920); 25 % to 420,000 (31,920); 30 % to 660,000 (52,920); 35 % to 960,000 (85,920);
45 % above (181,920). Cumulative taxable of month n = Σgross − 5,000·n − Σdeductions − Σspecial.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops_payroll.net_pay import (
    DeductionRates,
    MonthIn,
    RateProblem,
    annual_tax,
    check_rates,
    net_pay,
    rates_in_force,
    statutory_deductions,
    withhold_year,
)

ZZ_RATES = DeductionRates(
    dt.date(2022, 1, 1),
    pension=D("0.08"),
    medical=D("0.02"),
    unemployment=D("0.005"),
    housing_fund=D("0.10"),
    employer_pension=D("0.16"),
    employer_medical=D("0.08"),
    employer_unemployment=D("0.007"),
    employer_housing_fund=D("0.10"),
    base_floor=D("3500.00"),
    base_ceiling=D("20000.00"),
)


def test_the_base_is_clamped_between_floor_and_ceiling():
    # gross 3,000 < floor 3,500 -> base 3,500: 280 + 70 + 17.50 + 350 = 717.50;
    # employer 560 + 280 + 24.50 + 350 = 1,214.50
    low = statutory_deductions(D("3000.00"), ZZ_RATES)
    assert (low.base, low.pension, low.medical, low.unemployment, low.housing_fund) == (
        D("3500.00"),
        D("280.00"),
        D("70.00"),
        D("17.50"),
        D("350.00"),
    )
    assert (low.employee, low.employer) == (D("717.50"), D("1214.50"))
    # gross 25,000 > ceiling 20,000 -> base 20,000: 1,600 + 400 + 100 + 2,000 = 4,100;
    # employer 3,200 + 1,600 + 140 + 2,000 = 6,940
    high = statutory_deductions(D("25000.00"), ZZ_RATES)
    assert (high.base, high.employee, high.employer) == (D("20000.00"), D("4100.00"), D("6940.00"))
    # inside: gross 8,765.43 -> pension 701.2344 -> 701.23; medical 175.3086 -> 175.31;
    # unemployment 43.82715 -> 43.83; housing 876.543 -> 876.54; sum 1,796.91
    mid = statutory_deductions(D("8765.43"), ZZ_RATES)
    assert (mid.pension, mid.medical, mid.unemployment, mid.housing_fund) == (
        D("701.23"),
        D("175.31"),
        D("43.83"),
        D("876.54"),
    )
    assert mid.employee == D("1796.91")


def test_outsourced_couriers_and_units_without_rates_have_no_deductions():
    assert statutory_deductions(D("9000.00"), ZZ_RATES, outsourced=True).employee == 0
    assert statutory_deductions(D("9000.00"), None).employer == 0


def test_the_version_in_force_is_the_latest_on_or_before_the_month():
    later = DeductionRates(dt.date(2022, 7, 1), *[D("0.01")] * 8, D("4000.00"), D("21000.00"))
    assert rates_in_force([later, ZZ_RATES], dt.date(2022, 6, 1)) is ZZ_RATES
    assert rates_in_force([later, ZZ_RATES], dt.date(2022, 7, 1)) is later
    assert rates_in_force([later], dt.date(2022, 6, 1)) is None


def test_bad_rates_are_named_field_by_field():
    bad = DeductionRates(
        dt.date(2022, 1, 15),
        D("-0.01"),
        D("0.02"),
        D("0.6"),
        D("0.1"),
        *[D("0.1")] * 4,
        D("5000.00"),
        D("4000.00"),
    )
    with pytest.raises(RateProblem) as caught:
        check_rates(bad)
    assert sorted(p["field"] for p in caught.value.problems) == [
        "base_ceiling",
        "effective_from",
        "pension",
        "unemployment",
    ]


@pytest.mark.parametrize(
    ("taxable", "tax"),
    [
        ("0", "0.00"),
        ("-100", "0.00"),
        ("36000", "1080.00"),  # 36,000 × 3 %
        ("36000.01", "1080.00"),  # 3,600.001 − 2,520 = 1,080.001 -> 1,080.00
        ("144000", "11880.00"),  # 14,400 − 2,520
        ("300000", "43080.00"),  # 60,000 − 16,920
        ("420000", "73080.00"),  # 105,000 − 31,920
        ("660000", "145080.00"),  # 198,000 − 52,920
        ("960000", "250080.00"),  # 336,000 − 85,920
        ("1000000", "268080.00"),  # 450,000 − 181,920
    ],
)
def test_annual_table_with_quick_deductions(taxable, tax):
    assert annual_tax(D(taxable)) == D(tax)


def _year(gross, deductions, special):
    return [MonthIn(D(g), D(d), D(s)) for g, d, s in zip(gross, deductions, special, strict=True)]


def test_courier_a_stays_in_the_3_percent_bracket_all_year():
    # 10,000 gross, 1,000 deductions, 1,000 special a month: taxable grows 3,000 a month and
    # reaches 36,000 exactly in December (still 3 %); 90.00 every month, 1,080 in the year.
    year = withhold_year(_year(["10000"] * 12, ["1000"] * 12, ["1000"] * 12))
    assert [m.tax for m in year] == [D("90.00")] * 12
    assert (year[-1].ytd_taxable, year[-1].ytd_tax) == (D("36000.00"), D("1080.00"))


def test_courier_b_crosses_into_10_percent_in_april():
    # 20,000 gross, 2,000 deductions, 2,000 special: taxable 11,000 a month.
    # Jan 11,000 -> 330; Feb 22,000 -> 660 (330); Mar 33,000 -> 990 (330);
    # Apr 44,000 -> 4,400 − 2,520 = 1,880, minus 990 withheld = 890;
    # May 55,000 -> 2,980 (1,100); each later month +1,100;
    # Dec 132,000 -> 13,200 − 2,520 = 10,680 = 3×330 + 890 + 8×1,100.
    year = withhold_year(_year(["20000"] * 12, ["2000"] * 12, ["2000"] * 12))
    assert [m.tax for m in year] == [D("330.00")] * 3 + [D("890.00")] + [D("1100.00")] * 8
    assert [m.ytd_tax for m in year][:5] == [
        D("330.00"),
        D("660.00"),
        D("990.00"),
        D("1880.00"),
        D("2980.00"),
    ]
    assert year[-1].ytd_tax == D("10680.00") == sum(m.tax for m in year)


def test_courier_c_uneven_months_never_withhold_a_negative_amount():
    # Jan 4,000 (400 ded.): 4,000 − 5,000 − 400 < 0 -> taxable 0, tax 0.
    # Feb 12,000 (1,200): 16,000 − 10,000 − 1,600 = 4,400 -> 132.00; withhold 132.00.
    # Mar 3,000 (300): 19,000 − 15,000 − 1,900 = 2,100 -> 63.00 < 132 withheld -> 0, not −69.
    # Apr 9,000 (900): 28,000 − 20,000 − 2,800 = 5,200 -> 156.00; 156 − 132 = 24.00.
    # May–Dec 6,000 (600): +400 taxable a month -> +12.00 tax a month;
    # Dec 5,200 + 8×400 = 8,400 -> 252.00 = 132 + 24 + 8×12.
    gross = ["4000", "12000", "3000", "9000"] + ["6000"] * 8
    deductions = ["400", "1200", "300", "900"] + ["600"] * 8
    year = withhold_year(_year(gross, deductions, ["0"] * 12))
    assert [m.ytd_taxable for m in year][:4] == [
        D("0.00"),
        D("4400.00"),
        D("2100.00"),
        D("5200.00"),
    ]
    assert [m.tax for m in year] == [D("0.00"), D("132.00"), D("0.00"), D("24.00")] + [
        D("12.00")
    ] * 8
    assert year[-1].ytd_tax == D("252.00") == sum(m.tax for m in year)


def test_courier_d_crosses_into_20_percent_in_may():
    # 40,000 gross, 3,000 deductions: taxable 32,000 a month.
    # Jan 32,000 -> 960; Feb 64,000 -> 6,400 − 2,520 = 3,880 (2,920); Mar 96,000 -> 7,080
    # (3,200); Apr 128,000 -> 10,280 (3,200); May 160,000 -> 32,000 − 16,920 = 15,080
    # (4,800); Jun 192,000 -> 21,480 (6,400); ... Sep 288,000 -> 40,680 (6,400);
    # Oct 320,000 -> 25 %: 80,000 − 31,920 = 48,080 (7,400); Nov 352,000 -> 56,080 (8,000);
    # Dec 384,000 -> 64,080 (8,000).
    year = withhold_year(_year(["40000"] * 12, ["3000"] * 12, ["0"] * 12))
    assert [m.tax for m in year] == [
        D(x)
        for x in [
            "960.00", "2920.00", "3200.00", "3200.00", "4800.00", "6400.00",
            "6400.00", "6400.00", "6400.00", "7400.00", "8000.00", "8000.00",
        ]
    ]  # fmt: skip
    assert year[-1].ytd_tax == D("64080.00") == sum(m.tax for m in year)


def test_net_pay_is_gross_less_deductions_and_tax():
    # 25,000 − 4,100 − 447 (14,900 × 3 %) = 20,453.00
    deductions = statutory_deductions(D("25000.00"), ZZ_RATES)
    (month,) = withhold_year([MonthIn(D("25000.00"), deductions.employee, D("1000.00"))])
    assert month.ytd_taxable == D("14900.00") and month.tax == D("447.00")
    assert net_pay(D("25000.00"), deductions, month.tax) == D("20453.00")


money = st.decimals(min_value=0, max_value=200000, places=2)


@given(st.lists(st.tuples(money, money), min_size=1, max_size=12))
def test_the_year_withheld_equals_the_cumulative_tax_and_no_month_is_negative(months):
    year = withhold_year([MonthIn(g, d) for g, d in months])
    assert all(m.tax >= 0 for m in year)
    assert sum(m.tax for m in year) >= year[-1].ytd_tax
    # Withholding only ever catches up: whatever was withheld is never more than the highest
    # cumulative tax seen so far.
    assert sum(m.tax for m in year) == max(m.ytd_tax for m in year)
