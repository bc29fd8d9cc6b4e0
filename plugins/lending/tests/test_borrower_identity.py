"""Borrower identity: credit code and ID checksums, masking."""

import pytest
from postalops.errors import ValidationError
from postalops_lending.identity import mask_id_number, validate_credit_code, validate_id_number
from stdnum.cn import ric, uscc


def test_a_valid_credit_code_is_accepted_and_normalised():
    # 91110000600037341L is GB 32100's worked example; lower case and spaces are cleaned
    assert validate_credit_code("91110000600037341l") == "91110000600037341L"
    assert validate_credit_code(" 91110000600037341L ") == "91110000600037341L"


@pytest.mark.parametrize(
    "code",
    ["91110000600037341M", "9111000060003734", "91110000600037341LX", "", "ABCDEFGHIJKLMNOPQR"],
)
def test_a_wrong_credit_code_is_refused_naming_the_field(code):
    with pytest.raises(ValidationError) as err:
        validate_credit_code(code)
    assert err.value.status == 422
    assert err.value.code == "invalid_credit_code"
    assert err.value.details[0]["field"] == "credit_code"


def test_a_valid_id_number_is_accepted():
    assert validate_id_number("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check character (should be X)
        "11010519491331002X",  # month 13
        "1101051949",  # too short
        "654002198001011232",  # right checksum, region unknown to the table (stdnum KeyError)
    ],
)
def test_a_wrong_id_number_is_refused(number):
    with pytest.raises(ValidationError) as err:
        validate_id_number(number, field="legal_rep_id_number")
    assert err.value.code == "invalid_id_number"
    assert err.value.details[0]["field"] == "legal_rep_id_number"


def test_id_numbers_are_masked_in_lists():
    # keep the 6-digit region and the last 4: 18 - 10 = 8 stars
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("12345") == "*****"


def test_generated_demo_codes_pass_their_own_checksum():
    # the demo builds codes with calc_check_digit; the validator must accept them
    body = "91654000MA7" + "000123"
    assert validate_credit_code(body + uscc.calc_check_digit(body))
    body = "65010019800101123"  # 650100 = Urumqi; calc_check_digit drops a placeholder last char
    assert validate_id_number(body + ric.calc_check_digit(body + "0"))
