"""ID numbers (GB 11643) and phone numbers."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_outcall.identity import id_check_char, validate_id_number, validate_phone
from stdnum.cn import ric


@pytest.mark.parametrize(
    ("body", "check"),
    [
        # Σ dᵢwᵢ for 11010519491231002 with weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
        # 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 → "10X98765432"[2] = X
        ("11010519491231002", "X"),
        # 440524188001010014: 28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8 → "4"
        ("44052418800101001", "4"),
    ],
)
def test_check_character_matches_hand_computation(body, check):
    assert id_check_char(body) == check


def test_a_valid_id_number_is_returned_upper_cased():
    assert validate_id_number(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105194912310021", "checksum"),  # right length, wrong check digit (should be X)
        ("440524188001010015", "checksum"),
        ("11010519491231002", "malformed"),  # 17 characters
        ("1101051949123100XX", "malformed"),
        ("110105194913310027", "birth date"),  # month 13
        ("", "malformed"),
    ],
)
def test_bad_id_numbers_are_refused_naming_the_field(value, reason):
    with pytest.raises(ValidationError) as err:
        validate_id_number(value)
    assert err.value.status == 422
    assert err.value.details == [{"field": "id_number", "message": reason}]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_agrees_with_an_independent_implementation(body):
    assert id_check_char(body) == ric.calc_check_digit(body + "0")


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.integers(0, 16), st.integers(1, 9))
def test_changing_any_one_body_digit_breaks_the_checksum(position, delta):
    good = "11010519491231002X"
    digit = (int(good[position]) + delta) % 10
    bad = good[:position] + str(digit) + good[position + 1 :]
    # Weights are all non-zero mod 11, so a single-digit change always moves the sum.
    assert id_check_char(bad[:17]) != "X"


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("020-83331234", "02083331234"),
        ("0351-2345678", "03512345678"),
    ],
)
def test_valid_phones_are_normalised(value, normalised):
    assert validate_phone(value) == normalised


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "138123456789", "abc", "", "12345"])
def test_malformed_phones_are_refused(value):
    with pytest.raises(ValidationError) as err:
        validate_phone(value, field="address.phone")
    assert err.value.code == "invalid_phone"
    assert err.value.details[0]["field"] == "address.phone"
