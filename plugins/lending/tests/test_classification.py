"""Five-category classification at the band edges, in Python and in SQL."""

import sqlite3

import pytest
from postalops.errors import ValidationError
from postalops_lending.classification import (
    CATEGORY_ZH,
    NON_PERFORMING,
    Bands,
    Category,
    classify,
    sql_case,
)


@pytest.mark.parametrize(
    ("dpd", "zh"),
    [
        (0, "正常"),
        (1, "关注"),
        (90, "关注"),
        (91, "次级"),
        (180, "次级"),
        (181, "可疑"),
        (360, "可疑"),
        (361, "损失"),
        (5000, "损失"),
    ],
)
def test_default_bands_at_their_edges(dpd, zh):
    assert CATEGORY_ZH[classify(dpd)] == zh


def test_bands_are_configurable():
    strict = Bands(special_mention=1, substandard=61, doubtful=91, loss=181)
    assert classify(60, strict) is Category.SPECIAL_MENTION
    assert classify(61, strict) is Category.SUBSTANDARD
    assert classify(91, strict) is Category.DOUBTFUL
    assert classify(181, strict) is Category.LOSS


def test_non_performing_is_substandard_doubtful_and_loss():
    assert {CATEGORY_ZH[c] for c in NON_PERFORMING} == {"次级", "可疑", "损失"}


@pytest.mark.parametrize("edges", [(0, 91, 181, 361), (1, 91, 91, 361), (1, 200, 181, 361)])
def test_bands_must_increase(edges):
    with pytest.raises(ValidationError):
        Bands(*edges)


def test_negative_days_are_refused():
    with pytest.raises(ValidationError):
        classify(-1)


@pytest.mark.parametrize("bands", [Bands(), Bands(1, 61, 91, 181)])
def test_the_sql_case_agrees_with_python_on_every_day(bands):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (dpd INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(d,) for d in range(0, 400)])
    rows = db.execute(f"SELECT dpd, {sql_case('dpd', bands)} FROM t").fetchall()
    assert all(classify(d, bands).value == c for d, c in rows)


def test_sql_case_refuses_an_unsafe_column():
    with pytest.raises(ValueError):
        sql_case("dpd; DROP TABLE t")
