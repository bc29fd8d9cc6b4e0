import pytest
from postalops.errors import ValidationError
from postalops_outcall.address import validate_address

ADDRESS = {
    "province": "广东省",
    "city": "广州市",
    "district": "天河区",
    "detail": "天河路385号",
    "recipient": "高敏",
    "phone": "138-1234-5678",
}


def test_a_complete_address_is_accepted_with_its_phone_normalised():
    address = validate_address(ADDRESS)
    assert address.phone == "13812345678"
    assert address.one_line() == "广东省广州市天河区天河路385号"


def test_an_address_missing_its_district_is_refused_naming_the_district():
    with pytest.raises(ValidationError) as err:
        validate_address({**ADDRESS, "district": "  "})
    assert err.value.status == 422
    assert [d["field"] for d in err.value.details] == ["address.district"]


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ValidationError) as err:
        validate_address({"province": "广东省", "phone": "020-1"})
    assert [d["field"] for d in err.value.details] == [
        "address.city",
        "address.district",
        "address.detail",
        "address.recipient",
        "address.phone",
    ]
