"""KPI arithmetic: ratios and the quota-completion median."""

from decimal import Decimal as D

from postalops_payroll.kpi import median, ratio


def test_ratio_rounds_to_four_places_and_survives_an_empty_denominator():
    assert ratio(D("2735.50"), 2500) == D("1.0942")  # 2735.50 / 2500 = 1.0942
    assert ratio(1350, 2500) == D("0.5400")
    assert ratio(5, 0) is None


def test_median_of_odd_and_even_counts():
    assert median([D("0.95"), D("0.7999"), D("1.2")]) == D("0.9500")
    # (0.8 + 1.0) / 2
    assert median([D("1.0"), D("0.8"), D("0.5"), D("1.5")]) == D("0.9000")
    assert median([]) is None
