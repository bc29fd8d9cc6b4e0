"""Five-category loan classification (贷款五级分类) by days past due, with configurable bands.

Default bands (inclusive lower edges): 正常 normal 0; 关注 special mention 1–90;
次级 substandard 91–180; 可疑 doubtful 181–360; 损失 loss 361+. Non-performing loans (不良)
are the last three. The nightly job builds the same bands into one SQL CASE (``sql_case``),
so Python and SQL can never disagree about an edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from postalops.errors import ValidationError


class Category(StrEnum):
    NORMAL = "normal"  # 正常
    SPECIAL_MENTION = "special_mention"  # 关注
    SUBSTANDARD = "substandard"  # 次级
    DOUBTFUL = "doubtful"  # 可疑
    LOSS = "loss"  # 损失


CATEGORY_ZH = {
    Category.NORMAL: "正常",
    Category.SPECIAL_MENTION: "关注",
    Category.SUBSTANDARD: "次级",
    Category.DOUBTFUL: "可疑",
    Category.LOSS: "损失",
}

NON_PERFORMING = frozenset({Category.SUBSTANDARD, Category.DOUBTFUL, Category.LOSS})


@dataclass(frozen=True)
class Bands:
    """Lower edges (days past due) of 关注, 次级, 可疑, 损失; 正常 starts at 0."""

    special_mention: int = 1
    substandard: int = 91
    doubtful: int = 181
    loss: int = 361

    def __post_init__(self) -> None:
        edges = self.edges()
        if edges[0][0] < 1 or any(a[0] >= b[0] for a, b in zip(edges, edges[1:], strict=False)):
            raise ValidationError(
                "classification bands must start at 1 or more and strictly increase",
                code="invalid_bands",
                details=[{"field": "bands", "message": str([e for e, _ in edges])}],
            )

    def edges(self) -> Sequence[tuple[int, Category]]:
        return (
            (self.special_mention, Category.SPECIAL_MENTION),
            (self.substandard, Category.SUBSTANDARD),
            (self.doubtful, Category.DOUBTFUL),
            (self.loss, Category.LOSS),
        )


def classify(days_past_due: int, bands: Bands = Bands()) -> Category:
    """The category for ``days_past_due`` (>= 0)."""
    if days_past_due < 0:
        raise ValidationError(
            "days past due cannot be negative",
            code="invalid_dpd",
            details=[{"field": "days_past_due", "message": str(days_past_due)}],
        )
    category = Category.NORMAL
    for edge, band in bands.edges():
        if days_past_due >= edge:
            category = band
    return category


def sql_case(column: str, bands: Bands = Bands()) -> str:
    """A SQL CASE expression classifying ``column`` (an integer DPD column) like ``classify``.

    Only integers from ``bands`` and fixed category names are interpolated, never user input.
    """
    if not column.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"unsafe column name {column!r}")
    whens = " ".join(
        f"WHEN {column} >= {int(edge)} THEN '{category.value}'"
        for edge, category in reversed(bands.edges())
    )
    return f"CASE {whens} ELSE '{Category.NORMAL.value}' END"
