"""Raw events are kept N days; monthly partitions go whole once entirely past the cutoff."""

from datetime import UTC, date, datetime

import pytest
from postalops.errors import ValidationError
from postalops_sorter.retention import cutoff, droppable, month_partition, partitions_between


def test_cutoff_is_n_days_back():
    assert cutoff(datetime(2020, 12, 31, tzinfo=UTC), 90) == datetime(2020, 10, 2, tzinfo=UTC)
    with pytest.raises(ValidationError):
        cutoff(datetime(2020, 12, 31, tzinfo=UTC), 0)


def test_december_partition_ends_in_january():
    p = month_partition(datetime(2020, 12, 15, tzinfo=UTC))
    assert (p.name, p.start, p.end) == (
        "sorter_event_p2020_12",
        datetime(2020, 12, 1, tzinfo=UTC),
        datetime(2021, 1, 1, tzinfo=UTC),
    )


def test_only_partitions_wholly_before_the_cutoff_are_dropped():
    parts = partitions_between(date(2020, 8, 1), date(2020, 12, 1))
    assert [p.name[-7:] for p in parts] == ["2020_08", "2020_09", "2020_10", "2020_11", "2020_12"]
    # cutoff 2 Oct: August and September are wholly older; October still holds kept rows
    assert [p.name[-7:] for p in droppable(parts, datetime(2020, 10, 2, tzinfo=UTC))] == [
        "2020_08",
        "2020_09",
    ]
