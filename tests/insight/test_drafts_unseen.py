"""The need's insight counts only what the seeker may know exists: a team's draft is its own,
so writing one changes nothing the seeker sees."""

from __future__ import annotations

from marketplace.insight import services
from tests.challenges.conftest import user
from tests.proposals.conftest import draft_proposal, need, people  # noqa: F401


def test_a_draft_changes_no_count_of_the_need_s_insight(app, people, need) -> None:  # noqa: F811
    with app.app_context():
        before = services.need_insight(user(people.manager), need)
    draft_proposal(app, people.solver, need)
    with app.app_context():
        after = services.need_insight(user(people.manager), need)
    assert "started" not in {stage.key for stage in after.stages}
    assert after.stages == before.stages
