"""UPU S10 waybill numbers."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postalops_outcall.waybill import is_valid_waybill, make_waybill, s10_check_digit


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        # The example. 1·8+2·6+3·4+4·2+5·3+6·5+7·9+8·7 = 204; 204 mod 11 = 6; 11−6 = 5
        ("RA123456785CN", True),
        # UPU S10 / Wikipedia example. 4·8+7·6+3·4+1·2+2·3+4·5+8·9+2·7 = 200; 200 mod 11 = 2; 11−2 = 9
        ("AA473124829GB", True),
        ("RA123456784CN", False),
        ("RA12345678CN", False),
        ("ra123456785cn", False),
        ("R1123456785CN", False),
    ],
)
def test_published_examples(number, valid):
    assert is_valid_waybill(number) is valid


@pytest.mark.parametrize(
    ("serial", "check"),
    [
        ("00000000", 5),  # Σ = 0 → 11 − 0 = 11 → 5
        ("00060000", 0),  # Σ = 6·2 = 12; 12 mod 11 = 1 → 11 − 1 = 10 → 0
        ("10000000", 3),  # Σ = 8 → 11 − 8 = 3
    ],
)
def test_the_two_special_cases_of_the_check_digit(serial, check):
    assert s10_check_digit(serial) == check


def test_make_waybill_pads_the_serial():
    assert make_waybill("RA", 12345678) == "RA123456785CN"
    assert make_waybill("EA", 60000) == "EA000600000CN"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.integers(0, 99_999_999))
def test_every_made_waybill_validates(serial):
    assert is_valid_waybill(make_waybill("RA", serial))


def test_s10_maps_sum_residues_0_and_6_to_the_same_check_digit():
    # A limit of the standard, not of this code: Σ ≡ 0 → 11 → 5 and Σ ≡ 6 → 11 − 6 = 5.
    # 00000000 has Σ = 0; 00030000 has Σ = 3·2 = 6. Both end in check digit 5.
    assert is_valid_waybill("RA000000005CN")
    assert is_valid_waybill("RA000300005CN")
