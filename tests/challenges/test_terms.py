"""Terms: stable content hash, and the amendment rule field by field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.challenges.terms import Criterion, Terms, terms_diff, worsened_fields
from tests.factories import make_terms


def test_hash_is_stable_and_independent_of_presentation() -> None:
    terms = make_terms()
    same = make_terms(excluded_countries=("KP",), deadline=terms.deadline.astimezone())
    assert terms.sha256() == same.sha256()
    assert terms.sha256() == Terms.from_json(terms.to_json()).sha256()
    assert len(terms.sha256()) == 64
    assert make_terms(prizes=(1_000_000, 500_001)).sha256() != terms.sha256()


def test_known_hash_of_a_fixed_version() -> None:
    """The canonical JSON is part of the promise: changing it silently changes every hash."""
    from datetime import UTC, datetime

    fixed = make_terms(deadline=datetime(2027, 1, 31, 17, 0, tzinfo=UTC))
    assert fixed.canonical_json().startswith('{"confidentiality":"Details under NDA.","criteria":')
    assert '"deadline":"2027-01-31T17:00:00Z"' in fixed.canonical_json()
    assert fixed.sha256() == "de351e36b3281af8b2a0277e09759d71217e40acede1acf6a68e6f2b2b384f2d"


def test_money_arithmetic() -> None:
    terms = make_terms(prizes=(1_000_001,), platform_fee_bp=1_000)
    assert terms.prize_total == 1_000_001
    assert terms.platform_fee == 100_001  # rounded up: escrow never a cent short
    assert terms.escrow_required == 1_100_002


BETTER = [
    {"prizes": (1_200_000, 500_000)},
    {"prizes": (1_000_000, 500_000, 100_000)},
    {"value_share_bp": 700},
    {"value_share_months": 36},
    {"ip_terms": "solver_keeps"},
    {"excluded_countries": ()},
    {"exclude_org_members": False},
    {"max_team_size": 6},
    {"notes": ("Samples may be sent by post.",)},
]


@pytest.mark.parametrize("change", BETTER)
def test_changes_that_favour_solvers_are_allowed(change: dict) -> None:
    assert worsened_fields(make_terms(), make_terms(**change)) == {}


def test_a_later_deadline_is_allowed() -> None:
    old = make_terms()
    assert worsened_fields(old, make_terms(deadline=old.deadline + timedelta(days=7))) == {}


WORSE = [
    ({"prizes": (900_000, 500_000)}, {"prizes", "prize_total"}),
    ({"prizes": (1_000_000,)}, {"prizes", "prize_total"}),
    ({"prizes": (500_000, 1_000_000)}, {"prizes"}),
    ({"value_share_bp": 400}, {"value_share_bp"}),
    ({"value_share_months": 12}, {"value_share_months"}),
    ({"ip_terms": "assignment_on_payment"}, {"ip_terms"}),
    ({"excluded_countries": ("KP", "FR")}, {"excluded_countries"}),
    ({"criteria": (Criterion("Feasibility", 50), Criterion("Impact", 50))}, {"criteria"}),
    ({"max_team_size": 2}, {"max_team_size"}),
    ({"currency": "EUR"}, {"currency"}),
    ({"platform_fee_bp": 500}, {"platform_fee_bp"}),
    ({"partial_awards": True}, {"partial_awards"}),
    ({"confidentiality": "Everything is public."}, {"confidentiality"}),
]


@pytest.mark.parametrize(("change", "fields"), WORSE)
def test_each_worsened_field_is_named(change: dict, fields: set) -> None:
    assert set(worsened_fields(make_terms(), make_terms(**change))) == fields


def test_an_earlier_deadline_is_refused() -> None:
    old = make_terms()
    worse = worsened_fields(old, make_terms(deadline=old.deadline - timedelta(days=1)))
    assert set(worse) == {"deadline"}


def test_eligibility_narrowed_by_excluding_members() -> None:
    old = make_terms(exclude_org_members=False)
    assert set(worsened_fields(old, make_terms(exclude_org_members=True))) == {
        "exclude_org_members"
    }


def test_published_clarifications_cannot_be_removed() -> None:
    old = make_terms(notes=("A", "B"))
    assert set(worsened_fields(old, make_terms(notes=("A",)))) == {"notes"}
    assert worsened_fields(old, make_terms(notes=("A", "B", "C"))) == {}


def test_diff_lists_changed_fields_only() -> None:
    diff = terms_diff(make_terms(), make_terms(value_share_bp=700, max_team_size=6))
    assert diff == [("max_team_size", 4, 6), ("value_share_bp", 500, 700)]
