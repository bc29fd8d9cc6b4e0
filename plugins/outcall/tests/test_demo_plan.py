"""The demo plan reproduces DOMAIN.md §1 when worked through the queue rules in memory.

(The database-backed demo runs the same simulation through the plugin's services; its own test
checks the figures through the metrics hook.)
"""

import datetime as dt

from postalops_outcall import demo_plan
from postalops_outcall.eligibility import Catalogue
from postalops_outcall.identity import validate_id_number, validate_phone
from postalops_outcall.intake import parse_batch
from postalops_outcall.kpis import AttemptFact, counts_from_attempts, kpi_values
from postalops_outcall.simulation import MemoryQueue, Simulator

CATALOGUE = Catalogue(demo_plan.GUANGZHOU_CATALOGUE)


def test_the_hall_has_7_departments_and_22_items_in_outcall():
    assert len(CATALOGUE.participating_departments()) == 7
    assert len(CATALOGUE.participating_items()) == 22


def test_the_demo_plan_is_deterministic():
    assert demo_plan.guangzhou_days()[3] == demo_plan.guangzhou_days()[3]
    assert demo_plan.linfen_certificates()[100] == demo_plan.linfen_certificates()[100]


def test_every_generated_applicant_has_a_valid_id_number_and_phone():
    for day in demo_plan.guangzhou_days()[:2]:
        for row in day.cases:
            validate_id_number(row["id_number"])
            validate_phone(row["phone"])


def test_linfen_mailed_1785_teacher_certificates_with_distinct_references():
    orders = demo_plan.linfen_certificates()
    assert len(orders) == 1785
    assert len({o["reference"] for o in orders}) == 1785
    assert {o["item"] for o in orders} == {"教师资格证"}


def test_outcome_sequence_keeps_the_accepted_share_within_a_few_attempts():
    seq = demo_plan.OutcomeSequence()
    draws = [seq.next() for _ in range(2500)]
    assert abs(sum(d == "accepted" for d in draws) - 1350) <= 3  # 0.54 × 2500 = 1350


def test_simulated_agents_working_the_queue_reproduce_2500_calls_at_54_percent():
    queue = MemoryQueue(CATALOGUE)
    sim = Simulator(demo_plan.AGENTS)
    for day in demo_plan.guangzhou_days():
        for record in parse_batch(day.cases, catalogue=CATALOGUE):
            queue.intake(record)
        sim.run_day(queue, day.day)
    for day in demo_plan.working_days(dt.date(2022, 9, 1), dt.date(2022, 9, 9)):
        sim.run_day(queue, day)
    facts = [AttemptFact(c, o, at, queue.cases[c].approved_at) for c, _, o, at in queue.attempts]
    kpis = kpi_values(counts_from_attempts(facts, start=demo_plan.LAUNCH, end=demo_plan.REPORT_END))
    assert abs(kpis["calls"]["value"] - 2500) <= 50  # within 2 %
    assert abs(float(kpis["success_rate"]["value"]) - 0.54) <= 0.01
