"""A payslip as a PDF, in Chinese (issue 19 §1).

Drawn with reportlab using its built-in CID font ``STSong-Light`` (Adobe's Song typeface for
Simplified Chinese, which PDF readers carry), so no font file ships with the plugin or has to
exist on the server, and the page has no network dependency.
"""

from __future__ import annotations

import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .models import PayrollPayslip
from .payroll_run import SlipLine, payslip_lines

FONT = "STSong-Light"

LINE_LABELS = {
    "base": "基本工资",
    "delivery": "投递计件",
    "volume_tier": "超量阶梯",
    "commission": "揽收提成",
    "agent_fee": "自提点代投费",
    "adjustment": "补扣款",
    "outsourced": "外包结算",
}
CATEGORY_LABELS = {
    "letter": "平信",
    "registered": "挂号信",
    "parcel": "包裹",
    "express": "快递",
    "gov_mail": "政务邮件",
}
MODE_LABELS = {
    "door": "按址投递",
    "pickup_point": "自提点",
    "locker": "智能包裹柜",
    "counter": "转窗投",
}
TIER_LABELS = {"urban": "城区", "suburban": "城郊", "rural": "农村", "mountain": "山区"}


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def yuan(value: Decimal | None) -> str:
    return "—" if value is None else f"¥{value:,.2f}"


def _line_text(line: SlipLine) -> str:
    parts = [LINE_LABELS.get(line.kind, line.kind)]
    parts += [
        labels[value]
        for labels, value in (
            (CATEGORY_LABELS, line.category),
            (MODE_LABELS, line.mode),
            (TIER_LABELS, line.tier),
        )
        if value
    ]
    if line.volume_tier is not None:
        parts.append(f"第{line.volume_tier + 1}档")
    if line.reason:
        parts.append(line.reason)
    return " · ".join(parts)


def payslip_pdf(slip: PayrollPayslip, courier_name: str, unit_name: str) -> bytes:
    """One A4 page: who and which month, the pay lines, then gross to net."""
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    month = f"{slip.month // 100}年{slip.month % 100}月"
    story: list = [
        Paragraph(f"工资条 {month}", title),
        Paragraph(f"姓名：{courier_name}　工号：{slip.courier_code}　单位：{unit_name}", body),
        Spacer(1, 4 * mm),
    ]
    lines = [["项目", "数量", "单价", "金额"]]
    for line in payslip_lines(slip):
        lines.append(
            [
                Paragraph(_line_text(line), body),
                f"{line.quantity:,}",
                f"{line.unit_rate}",
                yuan(line.amount),
            ]
        )
    story.append(_table(lines, [95 * mm, 25 * mm, 25 * mm, 30 * mm], font))
    story.append(Spacer(1, 5 * mm))
    employee = [slip.pension, slip.medical, slip.unemployment, slip.housing_fund]
    summary = [
        ["应发工资", yuan(slip.total)],
        ["缴费基数", yuan(slip.contribution_base)],
        ["养老保险（个人）", yuan(slip.pension)],
        ["医疗保险（个人）", yuan(slip.medical)],
        ["失业保险（个人）", yuan(slip.unemployment)],
        ["住房公积金（个人）", yuan(slip.housing_fund)],
        ["专项附加扣除（本月）", yuan(slip.special_deduction)],
        ["累计应纳税所得额", yuan(slip.ytd_taxable)],
        ["累计应纳税额", yuan(slip.ytd_tax)],
        ["本月预扣个人所得税", yuan(slip.income_tax)],
        [
            "扣款合计",
            yuan(
                None
                if slip.net_pay is None
                else sum((v or Decimal(0) for v in employee), Decimal(0)) + (slip.income_tax or 0)
            ),
        ],
        ["实发工资", yuan(slip.net_pay)],
        ["单位缴纳社保公积金（不从工资扣除）", yuan(slip.employer_costs)],
    ]
    story.append(_table(summary, [120 * mm, 55 * mm], font, bold_last=12))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"工资条 {month} {slip.courier_code}",
    )
    doc.build(story)
    return buffer.getvalue()


def _table(rows: list, widths: list, font: str, bold_last: int | None = None) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 10),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f2f5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if bold_last is not None:
        style.append(
            ("BACKGROUND", (0, bold_last - 1), (-1, bold_last - 1), colors.HexColor("#e6f4ea"))
        )
    table.setStyle(TableStyle(style))
    return table
