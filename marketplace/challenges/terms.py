"""Terms stated up front: an immutable value with a content hash, and the amendment rule.

After a need opens, a new terms version is accepted only if it is at least as good for every
solver (DESIGN.md, principle 1). ``worsened_fields`` names each field that would get worse.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ledger import as_utc

#: From least to most demanding of the solver.
IP_TERMS = ("solver_keeps", "non_exclusive_licence", "exclusive_licence", "assignment_on_payment")
IP_LABELS = {
    "solver_keeps": "Solver keeps all IP",
    "non_exclusive_licence": "Non-exclusive licence to the seeker",
    "exclusive_licence": "Exclusive licence to the seeker",
    "assignment_on_payment": "IP assigned to the seeker on payment",
}
BASIS_POINTS = 10_000


@dataclass(frozen=True)
class Criterion:
    name: str
    weight: int


@dataclass(frozen=True)
class Terms:
    """One version of a need's terms. Amounts are minor units of ``currency``."""

    currency: str
    prizes: tuple[int, ...]
    partial_awards: bool
    value_share_bp: int
    value_share_months: int
    platform_fee_bp: int
    ip_terms: str
    excluded_countries: tuple[str, ...]
    exclude_org_members: bool
    criteria: tuple[Criterion, ...]
    max_team_size: int
    deadline: datetime
    confidentiality: str = ""
    notes: tuple[str, ...] = field(default=())
    #: Platform admins may read proposals in full (otherwise they see metadata only).
    admins_may_read: bool = False

    @property
    def prize_total(self) -> int:
        return sum(self.prizes)

    @property
    def platform_fee(self) -> int:
        """The fee on the whole prize pool, rounded up so escrow never falls a cent short."""
        return -(-self.prize_total * self.platform_fee_bp // BASIS_POINTS)

    @property
    def escrow_required(self) -> int:
        return self.prize_total + self.platform_fee

    def to_json(self) -> dict:
        data = asdict(self)
        data["prizes"] = list(self.prizes)
        data["excluded_countries"] = sorted(self.excluded_countries)
        data["criteria"] = [asdict(c) for c in self.criteria]
        data["notes"] = list(self.notes)
        data["deadline"] = as_utc(self.deadline).strftime("%Y-%m-%dT%H:%M:%SZ")
        if not self.admins_may_read:
            # Added after terms were first published: left out at its default so that the
            # hashes of versions written before it existed stay what they were.
            del data["admins_may_read"]
        return data

    def canonical_json(self) -> str:
        """Sorted keys, no spaces, UTC deadline to the second: equal terms, equal text."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, data: dict) -> Terms:
        """From ``to_json``'s output or from validated input (deadline as text or datetime)."""
        deadline = data["deadline"]
        if isinstance(deadline, str):
            deadline = datetime.fromisoformat(deadline.replace("Z", "+00:00"))
        return cls(
            currency=data["currency"],
            prizes=tuple(data["prizes"]),
            partial_awards=data["partial_awards"],
            value_share_bp=data["value_share_bp"],
            value_share_months=data["value_share_months"],
            platform_fee_bp=data["platform_fee_bp"],
            ip_terms=data["ip_terms"],
            excluded_countries=tuple(sorted(set(data["excluded_countries"]))),
            exclude_org_members=data["exclude_org_members"],
            criteria=tuple(Criterion(**c) for c in data["criteria"]),
            max_team_size=data["max_team_size"],
            deadline=deadline,
            confidentiality=data.get("confidentiality", ""),
            notes=tuple(data.get("notes", ())),
            admins_may_read=bool(data.get("admins_may_read", False)),
        )


def worsened_fields(old: Terms, new: Terms) -> dict[str, str]:
    """Each field in which ``new`` is worse for some solver than ``old``, with the reason."""
    worse: dict[str, str] = {}
    if new.currency != old.currency:
        worse["currency"] = "The currency cannot change once the need is open."
    if len(new.prizes) < len(old.prizes):
        worse["prizes"] = "A prize cannot be removed once the need is open."
    else:
        kept = zip(old.prizes, new.prizes[: len(old.prizes)], strict=True)
        lowered = [str(rank) for rank, (o, n) in enumerate(kept, 1) if n < o]
        if lowered:
            worse["prizes"] = f"Prize {', '.join(lowered)} would be lower than promised."
    if new.prize_total < old.prize_total:
        worse["prize_total"] = "The total of the prizes cannot go down."
    if new.value_share_bp < old.value_share_bp:
        worse["value_share_bp"] = "The value share cannot go down."
    if new.value_share_months < old.value_share_months:
        worse["value_share_months"] = "The value share period cannot get shorter."
    if as_utc(new.deadline) < as_utc(old.deadline):
        worse["deadline"] = "The deadline cannot move earlier."
    if IP_TERMS.index(new.ip_terms) > IP_TERMS.index(old.ip_terms):
        worse["ip_terms"] = "The IP terms cannot ask more of solvers."
    if not set(new.excluded_countries) <= set(old.excluded_countries):
        worse["excluded_countries"] = "No further country can be excluded."
    if new.exclude_org_members and not old.exclude_org_members:
        worse["exclude_org_members"] = "Eligibility cannot get narrower."
    if new.criteria != old.criteria:
        worse["criteria"] = "The judging criteria cannot change once the need is open."
    if new.max_team_size < old.max_team_size:
        worse["max_team_size"] = "The maximum team size cannot go down."
    if new.partial_awards and not old.partial_awards:
        worse["partial_awards"] = "Partial awards cannot be allowed after opening."
    if new.platform_fee_bp != old.platform_fee_bp:
        worse["platform_fee_bp"] = "The platform fee cannot change once the need is open."
    if new.notes[: len(old.notes)] != old.notes:
        worse["notes"] = "Published clarifications cannot be removed or reworded; add new ones."
    if new.admins_may_read and not old.admins_may_read:
        worse["admins_may_read"] = "Proposals cannot be opened to platform admins after opening."
    if new.confidentiality != old.confidentiality:
        worse["confidentiality"] = "The confidentiality terms cannot change once the need is open."
    return worse


def terms_diff(old: Terms, new: Terms) -> list[tuple[str, object, object]]:
    """(field, before, after) for every field that differs, in a stable order."""
    before, after = asdict(old), asdict(new)
    before, after = {**before, **old.to_json()}, {**after, **new.to_json()}
    return [(key, before[key], after[key]) for key in sorted(before) if before[key] != after[key]]
