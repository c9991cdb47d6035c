"""Insight at the service level: a need's funnel and response times, and the solver typology
with its precedence (views are counted in test_visits.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketplace.errors import Forbidden, NotFound
from marketplace.insight import services
from marketplace.insight.typology import TYPOLOGY, SolverFacts, classify
from tests.challenges.conftest import create, user
from tests.insight.conftest import award, new_solvers, report_value
from tests.proposals.conftest import accept, need_with, submit


def test_the_funnel_counts_each_stage_and_converts_in_whole_percents(app, people, funnel):
    with app.app_context():
        result = services.need_insight(user(people.reviewer), funnel.challenge_id)
    counts = {stage.key: stage.count for stage in result.stages}
    assert counts == {
        "views": 10, "accepted_terms": 7, "submitted": 5, "decided": 3,
        "awarded": 1,
    }  # fmt: skip
    conversions = [stage.conversion_percent for stage in result.stages]
    # 7/10, 5/7 = 71.4, 3/5, 1/3 = 33.3: rounded down
    assert conversions == [None, 70, 71, 60, 33]
    assert [stage.overall_percent for stage in result.stages] == [100, 70, 50, 30, 10]
    assert result.widest == 10
    responses = result.responses
    # received: not withdrawn (the team's, other's, u3's, u6's); u6's waits
    assert (responses.received, responses.answered, responses.rate_percent) == (4, 3, 75)
    assert (responses.median_seconds, responses.longest_seconds) == (300, 900)


def test_a_new_need_has_an_empty_funnel(app, people, need):
    with app.app_context():
        result = services.need_insight(user(people.manager), need)
    assert [stage.count for stage in result.stages] == [0, 3, 0, 0, 0]
    assert [stage.conversion_percent for stage in result.stages] == [None, None, 0, None, None]
    assert result.responses.rate_percent is None
    assert result.responses.median_seconds is None and result.responses.longest_seconds is None


@pytest.mark.parametrize("email", ["finance@acme.example", "solver@example.com",
                                   "rival@rival.example"])  # fmt: skip
def test_a_need_the_caller_sees_but_may_not_judge_is_forbidden(app, people, need, email):
    with app.app_context(), pytest.raises(Forbidden):
        services.need_insight(user(email), need)


def test_a_need_the_caller_cannot_see_does_not_exist(app, people):
    draft = create(app, people)
    with app.app_context():
        for email in (people.rival, people.solver):
            with pytest.raises(NotFound):
                services.need_insight(user(email), draft)
        with pytest.raises(NotFound):
            services.need_insight(None, draft)
        assert services.need_insight(user(people.reviewer), draft).stages[0].count == 0


@pytest.mark.parametrize("email", ["reviewer@acme.example", "finance@acme.example",
                                   "solver@example.com", "rival@rival.example"])  # fmt: skip
def test_only_owners_and_managers_see_the_organization(app, people, email):
    with app.app_context():
        with pytest.raises(Forbidden):
            services.organization_insight(user(email), "acme")
        with pytest.raises(NotFound):
            services.organization_insight(user(people.owner), "no-such-org")
        with pytest.raises(NotFound):
            services.organization_insight(user(people.owner), "acme\x00")


@pytest.fixture
def cast(app, people, need) -> SimpleNamespace:
    """Two needs of Acme (A: ``need``; B) and solvers built to be each type:

    - tina: alone on A (transactor);
    - sue: alone on A and alone on B (supporter);
    - pete: leads A with quinn, who joins, and alone on B (promoter before supporter);
      quinn: on pete's team only (transactor);
    - cora: leads B with dan (70/30), awarded, and a posted value report shares with her; alone
      on A too (co-creator before promoter and supporter); dan: awarded, no value share
      (transactor);
    - rex: alone on A, awarded, whose only value report was reversed (transactor).
    """
    names = ["tina", "sue", "pete", "quinn", "cora", "dan", "rex"]
    emails = {name: f"{name}@example.com" for name in names}
    new_solvers(app, *emails.values())
    need_b = need_with(app, people)
    for name in names:
        accept(app, emails[name], need)
    for name in ("sue", "pete", "cora", "dan"):
        accept(app, emails[name], need_b)
    e = SimpleNamespace(**emails)
    submit(app, e.tina, need)
    submit(app, e.sue, need)
    submit(app, e.sue, need_b)
    submit(app, e.pete, need, [e.quinn], (5000, 5000))
    submit(app, e.pete, need_b)
    cora_b = submit(app, e.cora, need_b, [e.dan], (7000, 3000))
    submit(app, e.cora, need)
    rex_a = submit(app, e.rex, need)
    cora_award = award(app, people, cora_b)
    rex_award = award(app, people, rex_a)
    report_value(app, people, cora_award, {e.cora: 30_000})
    report_value(app, people, rex_award, {e.rex: 50_000}, reversed_=True)
    with app.app_context():
        ids = {name: user(email).id for name, email in emails.items()}
    return SimpleNamespace(ids=ids, need_a=need, need_b=need_b)


def _rows(app, people):
    with app.app_context():
        insight = services.organization_insight(user(people.manager), "acme")
    return insight, {row.user_id: row for row in insight.solvers}


def test_each_solver_gets_the_first_type_whose_rule_matches(app, people, cast):
    insight, rows = _rows(app, people)
    by_name = {name: rows[uid] for name, uid in cast.ids.items()}
    assert {name: row.type.key for name, row in by_name.items()} == {
        "tina": "transactor", "sue": "supporter", "pete": "promoter", "quinn": "transactor",
        "cora": "co_creator", "dan": "transactor", "rex": "transactor",
    }  # fmt: skip
    assert set(rows) == set(cast.ids.values())  # nobody else took part
    assert insight.type_counts == {
        "co_creator": 1, "promoter": 1, "supporter": 1, "transactor": 4,
    }  # fmt: skip
    assert [row.type.key for row in insight.solvers][:3] == ["co_creator", "promoter",
                                                            "supporter"]  # fmt: skip


def test_each_solver_has_proposals_needs_awards_earnings_and_value(app, people, cast):
    _, rows = _rows(app, people)
    cora, dan, rex, pete = (rows[cast.ids[n]] for n in ("cora", "dan", "rex", "pete"))
    assert (cora.proposal_count, cora.need_count, cora.award_count, cora.teams_led_count) == (
        2, 2, 1, 1,
    )  # fmt: skip
    assert cora.earned == {"USD": 700_000} and cora.value_attributed == {"USD": 30_000}
    assert dan.earned == {"USD": 300_000} and dan.value_attributed == {}
    assert rex.earned == {"USD": 1_000_000} and rex.value_attributed == {}  # reversed: none
    assert (pete.proposal_count, pete.need_count, pete.teams_led_count) == (2, 2, 1)
    assert cora.earned_money == [{"currency": "USD", "amount": 700_000}]


def test_the_rules_decide_in_order_of_precedence():
    assert [kind.key for kind in TYPOLOGY] == [
        "co_creator", "promoter", "supporter", "transactor",
    ]  # fmt: skip
    everything = SolverFacts(1, proposals={1, 2}, needs={1, 2}, teams_led={1}, awards={1},
                             value_reports={1})  # fmt: skip
    assert classify(everything).key == "co_creator"
    everything.value_reports.clear()
    assert classify(everything).key == "promoter"
    everything.teams_led.clear()
    assert classify(everything).key == "supporter"
    everything.needs.discard(2)
    assert classify(everything).key == "transactor"
    assert all(kind.rule for kind in TYPOLOGY)
