"""The solver typology from the co-creation literature, as data.

Each type has a name, the rule in words and the function that decides it, kept together so the
insight pages and the API show exactly the rule the code applies. The first type whose rule
matches is the solver's type (the order is the precedence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SolverFacts:
    """What one solver did with one organization's needs (money in minor units per currency).

    Taking part means being a joined member of a proposal the organization was sent (submitted,
    awarded or declined); drafts and withdrawn proposals are the team's own business.
    """

    user_id: int
    name: str = ""
    #: Proposals sent to the organization with this solver on the team.
    proposals: set[int] = field(default_factory=set)
    #: The organization's needs those proposals answered.
    needs: set[int] = field(default_factory=set)
    #: Proposals sent that this solver led and someone else joined.
    teams_led: set[int] = field(default_factory=set)
    #: Awards of the organization whose split includes this solver.
    awards: set[int] = field(default_factory=set)
    earned: dict[str, int] = field(default_factory=dict)
    #: Their part of the organization's posted value reports.
    value_attributed: dict[str, int] = field(default_factory=dict)
    #: Posted value reports that gave them a positive share.
    value_reports: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class SolverType:
    key: str
    name: str
    rule: str
    applies: Callable[[SolverFacts], bool]


#: In order of precedence: a solver is the first type whose rule matches.
TYPOLOGY: tuple[SolverType, ...] = (
    SolverType(
        "co_creator",
        "Co-creator",
        "Won at least one award from this organization and has a positive share of at least "
        "one of its posted value reports: awarded and sharing in the value created.",
        lambda s: bool(s.awards) and bool(s.value_reports),
    ),
    SolverType(
        "promoter",
        "Promoter",
        "Led a team, on a proposal sent to one of this organization's needs, that someone else "
        "joined: brought others in (only a team's lead invites co-creators).",
        lambda s: bool(s.teams_led),
    ),
    SolverType(
        "supporter",
        "Supporter",
        "Took part in proposals sent to two or more of this organization's needs: repeat "
        "participation.",
        lambda s: len(s.needs) >= 2,
    ),
    SolverType(
        "transactor",
        "Transactor",
        "Took part in exactly one of this organization's needs: one-off participation.",
        lambda s: len(s.needs) == 1,
    ),
)

#: What the pages show for a solver no rule matches (none, as long as taking part is defined as
#: above: every solver listed took part in at least one need).
UNCLASSIFIED = SolverType("unclassified", "Unclassified", "No rule above matches.", lambda s: True)


def classify(facts: SolverFacts) -> SolverType:
    """The solver's type: the first of ``TYPOLOGY`` whose rule applies."""
    return next((kind for kind in TYPOLOGY if kind.applies(facts)), UNCLASSIFIED)
