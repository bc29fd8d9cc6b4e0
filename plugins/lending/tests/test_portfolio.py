from decimal import Decimal as D

from postalops_lending.portfolio import median, ratio


def test_median_of_odd_and_even_counts():
    assert median([D("30"), D("10"), D("20")]) == D("20")
    assert median([D("10"), D("40"), D("20"), D("30")]) == D("25")  # (20 + 30) / 2
    assert median([]) is None


def test_ratio_is_a_fraction_to_four_places():
    # 150,000 non-performing of 2,000,000 outstanding = 0.075
    assert ratio(D("150000"), D("2000000")) == D("0.0750")
    assert ratio(D("1"), D("3")) == D("0.3333")
    assert ratio(D("5"), D("0")) == D("0")
