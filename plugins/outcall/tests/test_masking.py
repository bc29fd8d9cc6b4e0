from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postalops_outcall.masking import mask_id_number, mask_name, mask_phone


def test_masks_used_in_lists_and_exports():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("02083331234") == "020****1234"
    assert mask_id_number("44010619900101123X") == "4401**********123X"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone("") == "" and mask_id_number(None) == ""


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_a_masked_phone_hides_the_middle_four_and_keeps_its_length(phone):
    masked = mask_phone(phone)
    assert len(masked) == 11 and masked[3:7] == "****"
    assert masked[:3] == phone[:3] and masked[-4:] == phone[-4:]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.text(alphabet="0123456789", min_size=18, max_size=18))
def test_a_masked_id_number_never_shows_the_birth_date(id_number):
    masked = mask_id_number(id_number)
    assert masked[6:14] == "********"
    assert len(masked) == 18
