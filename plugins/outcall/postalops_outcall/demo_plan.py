"""What the demo contains: the Guangzhou hall's catalogue, its applicants and cases, the
simulated agents' answers, and the Linfen teacher-certificate mailing (DOMAIN.md §1).

Pure and deterministic (fixed seeds, no clock): the demo hook turns these plans into records
through the plugin's own services, so no total is ever written directly.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .call_policy import Outcome
from .eligibility import CatalogueEntry
from .identity import id_check_char

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
GUANGZHOU = "cn.guangdong.guangzhou"
LINFEN = "cn.shanxi.linfen"
LAUNCH = dt.date(2022, 8, 17)
REPORT_END = dt.date(2022, 8, 31)

# 7 departments, 22 items in the hall at launch (DOMAIN.md §1), plus two items of a department
# that does not take part, so "known but not participating" exists in the demo too.
GUANGZHOU_CATALOGUE: tuple[CatalogueEntry, ...] = tuple(
    CatalogueEntry(dept, item, participating)
    for dept, items, participating in (
        (
            "市人力资源和社会保障局",
            (
                "技能人员职业资格证书核发",
                "职业资格证书补发",
                "社会保障卡补换",
                "外国人来华工作许可",
            ),
            True,
        ),
        (
            "市卫生健康委员会",
            ("医师执业注册", "护士执业注册", "医师资格证书补办", "出生医学证明补发"),
            True,
        ),
        ("市教育局", ("教师资格认定", "教师资格证书补发", "学历证明书核发"), True),
        ("市民政局", ("收养登记", "婚姻登记档案证明"), True),
        (
            "市住房和城乡建设局",
            ("建造师执业注册", "监理工程师注册", "建筑施工特种作业操作资格证"),
            True,
        ),
        (
            "市交通运输局",
            ("道路运输从业人员从业资格证", "出租汽车驾驶员从业资格证", "网约车驾驶员证"),
            True,
        ),
        ("市司法局", ("律师执业证", "公证员执业证", "基层法律服务工作者执业证"), True),
        ("市市场监督管理局", ("食品经营许可证", "营业执照"), False),
    )
    for item in items
)

AGENTS: tuple[str, ...] = ("gz_agent_01", "gz_agent_02", "gz_agent_03", "gz_agent_04")
# The people behind those logins (the demo gives them accounts, so lists and charts name them).
AGENT_NAMES: dict[str, str] = {
    "gz_agent_01": "陈晓燕",
    "gz_agent_02": "黄志强",
    "gz_agent_03": "林美华",
    "gz_agent_04": "梁家豪",
}

# Share of each answer among call attempts, in the order the unit interval is cut.
# Accepted is the article's 54 % success rate.
OUTCOME_SHARES: tuple[tuple[Outcome, float], ...] = (
    (Outcome.ACCEPTED, 0.54),
    (Outcome.DECLINED, 0.14),
    (Outcome.WRONG_NUMBER, 0.02),
    (Outcome.NO_ANSWER, 0.18),
    (Outcome.BUSY, 0.08),
    (Outcome.CALLBACK, 0.04),
)

_SURNAMES = "陈李黄张梁刘何林罗郭吴邓杨冯周谢朱麦钟曾"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红"
_DISTRICT_CODES = ("440103", "440104", "440105", "440106", "440111", "440112", "440113", "440114")
_GZ_DISTRICTS = ("越秀区", "海珠区", "荔湾区", "天河区", "白云区", "黄埔区", "番禺区", "花都区")
_PROVINCES = (
    ("广东省", "广州市", _GZ_DISTRICTS),
    ("广东省", "深圳市", ("福田区", "南山区", "宝安区")),
    ("北京市", "北京市", ("朝阳区", "海淀区")),
    ("上海市", "上海市", ("浦东新区", "徐汇区")),
)


class OutcomeSequence:
    """The simulated applicants' answers, attempt by attempt.

    Uses the golden-ratio low-discrepancy sequence instead of pseudo-random draws, so over any
    long run of attempts each answer's share matches ``OUTCOME_SHARES`` to within a few attempts.
    That keeps the demo's success rate on the article's 54 % without writing any total.
    """

    _PHI = 0.6180339887498949

    def __init__(self, shares: tuple[tuple[Outcome, float], ...] = OUTCOME_SHARES) -> None:
        self._bounds: list[tuple[float, Outcome]] = []
        edge = 0.0
        for outcome, share in shares:
            edge += share
            self._bounds.append((edge, outcome))
        self._k = 0

    def next(self) -> Outcome:
        self._k += 1
        u = (self._k * self._PHI) % 1.0
        for edge, outcome in self._bounds:
            if u < edge:
                return outcome
        return self._bounds[-1][1]


def make_id_number(rng: random.Random, region: str) -> str:
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 42))
    body = f"{region}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return body + id_check_char(body)


def make_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(0, 10**9):09d}"


def make_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


@dataclass(frozen=True)
class DemoDay:
    day: dt.date
    cases: tuple[dict, ...]  # rows exactly as the platform's API would send them


def working_days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    d = start
    while d <= end:
        if d.weekday() < 5:
            yield d
        d += dt.timedelta(days=1)


CASES_PER_WORKING_DAY = 201


def guangzhou_days(cases_per_day: int = CASES_PER_WORKING_DAY) -> list[DemoDay]:
    """Cases approved on each working day from launch to 31 Aug, as platform rows.

    About one in five fails a rule (enterprise, district level, mail already chosen, old
    certificate to return, or a non-participating item), as in a real hall.
    """
    rng = random.Random(20220817)
    items = list(GUANGZHOU_CATALOGUE)
    participating = [e for e in items if e.participating]
    days = []
    serial = 0
    for day in working_days(LAUNCH, REPORT_END):
        rows = []
        for _ in range(cases_per_day):
            serial += 1
            entry = rng.choice(participating) if rng.random() < 0.97 else rng.choice(items)
            approved = dt.datetime.combine(day, dt.time(9, 0), LOCAL_TZ) + dt.timedelta(
                minutes=rng.randrange(0, 8 * 60 + 30)
            )
            rows.append(
                {
                    "case_no": f"GZZW{day:%Y%m%d}{serial:05d}",
                    "department": entry.department,
                    "service_item": entry.item,
                    "applicant_type": "enterprise" if rng.random() < 0.06 else "personal",
                    "approval_level": "district" if rng.random() < 0.05 else "municipal",
                    "applicant_name": make_name(rng),
                    "phone": make_phone(rng),
                    "id_number": make_id_number(rng, rng.choice(_DISTRICT_CODES)),
                    "approved_at": approved.isoformat(),
                    "issuing_method": "mail" if rng.random() < 0.05 else "window",
                    "old_certificate_return": rng.random() < 0.04,
                    "ready_at": (
                        approved + dt.timedelta(minutes=rng.randrange(10, 90))
                    ).isoformat(),
                }
            )
        days.append(DemoDay(day, tuple(rows)))
    return days


def demo_address(rng: random.Random, recipient: str, phone: str) -> dict[str, str]:
    """A delivery address: most applicants stay in Guangzhou, some are away (the article's case)."""
    province, city, districts = _PROVINCES[0] if rng.random() < 0.8 else rng.choice(_PROVINCES[1:])
    return {
        "province": province,
        "city": city,
        "district": rng.choice(districts),
        "detail": f"{rng.choice(('中山', '环市', '天河', '解放', '人民', '建设'))}路{rng.randrange(1, 400)}号"
        f"{rng.randrange(1, 30)}栋{rng.randrange(101, 3201)}",
        "recipient": recipient,
        "phone": phone,
    }


LINFEN_CERTIFICATES = 1785
LINFEN_HALL = "临汾市尧都区政务服务大厅"
_LINFEN_DISTRICTS = ("尧都区", "侯马市", "霍州市", "曲沃县", "翼城县", "襄汾县", "洪洞县", "浮山县")


def linfen_certificates(count: int = LINFEN_CERTIFICATES) -> list[dict]:
    """The county hall's free mailing of teacher-qualification certificates (教师资格证).

    Spread over the working days of 22 Aug – 9 Sep 2022, each a government-mail order.
    """
    rng = random.Random(1785)
    days = list(working_days(dt.date(2022, 8, 22), dt.date(2022, 9, 9)))
    out = []
    for n in range(count):
        day = days[n * len(days) // count]
        name = make_name(rng)
        phone = make_phone(rng)
        out.append(
            {
                "reference": f"LFJSZG{n + 1:05d}",
                "item": "教师资格证",
                "sender": LINFEN_HALL,
                "created_at": dt.datetime.combine(day, dt.time(10, 0), LOCAL_TZ)
                + dt.timedelta(minutes=(n * 7) % 420),
                "address": {
                    "province": "山西省",
                    "city": "临汾市",
                    "district": rng.choice(_LINFEN_DISTRICTS),
                    "detail": f"{rng.choice(('鼓楼', '解放', '五一', '滨河', '平阳'))}路{rng.randrange(1, 300)}号",
                    "recipient": name,
                    "phone": phone,
                },
            }
        )
    return out
