"""What an API token may do: scopes by area, read and write separate ("needs:read").

Every API operation belongs to an area (declared per blueprint in its ``api.py``, refined per
operation where one differs, see ``marketplace.auth``). A safe method (GET, HEAD, OPTIONS) needs
the area's ``read`` scope; any other method its ``write`` scope. Operations on one's own account
(``/me``, ``/me/tokens``, ``/notifications``) need no scope: any valid token may use them, but a
token minted through the API gets no scope its minting token lacks.

Money: a token with a money scope (``MONEY_SCOPES``) is made only for a user with a second
factor, and its money scopes stop working if that second factor is turned off
(``marketplace.auth``). The money operations of other areas (funding a need, awarding a prize)
are refused to anyone without a second factor by their services, on the pages and through the
API alike (``marketplace.accounts.second_factor.require_second_factor``).
"""

from __future__ import annotations

from collections.abc import Iterable

AREAS = ("needs", "proposals", "judging", "value", "payouts", "finance")
READ = "read"
WRITE = "write"
ALL_SCOPES: tuple[str, ...] = tuple(
    f"{area}:{access}" for area in AREAS for access in (READ, WRITE)
)
READ_SCOPES: tuple[str, ...] = tuple(f"{area}:{READ}" for area in AREAS)
#: Scopes that move money or approve moving it: only for users with a second factor.
MONEY_SCOPES = frozenset({"value:write", "payouts:write", "finance:write"})
#: What each scope lets a token do, for the account page and the API's documentation.
DESCRIPTIONS = {
    "needs": "needs, their terms, dialogue and insight (funding a need is a money operation)",
    "proposals": "proposals, teams, attachments and messages",
    "judging": "reviews, shortlists, decisions and awards (awarding is a money operation)",
    "value": "earnings, contributions and value reports",
    "payouts": "payout accounts and payout batches",
    "finance": "the book: trial balance, transfers, statements, reconciliation, exports",
}


def money_scopes(chosen: Iterable[str]) -> list[str]:
    """The money scopes among ``chosen``, in a fixed order."""
    return sorted(MONEY_SCOPES.intersection(chosen))


def scope(area: str, access: str) -> str:
    return f"{area}:{access}"


def parse(text: str | None) -> frozenset[str]:
    """The scopes stored as one space-separated string."""
    return frozenset((text or "").split())


def serialise(scopes: Iterable[str]) -> str:
    """Scopes in a fixed order (as ALL_SCOPES), space-separated, for storing."""
    chosen = set(scopes)
    return " ".join(s for s in ALL_SCOPES if s in chosen)


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - set(ALL_SCOPES))
