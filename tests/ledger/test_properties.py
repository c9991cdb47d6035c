"""Property tests: any sequence of transfers, pending/post/void and reversals keeps the book right.

Each generated step runs in a savepoint; a step the ledger refuses (overdraft, resolving twice,
reversing twice) is rolled back like a real caller would. A plain-Python model of the four
counters follows along; after every sequence the database must agree with the model, verify()
must find nothing, and the trial balance must sum to zero.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ledger
from ledger import AccountType

ACCOUNTS = [
    ("asset:cash:p", AccountType.ASSET, {}),
    ("liability:escrow:p", AccountType.LIABILITY, {"debits_must_not_exceed_credits": True}),
    ("liability:payable:p", AccountType.LIABILITY, {"debits_must_not_exceed_credits": True}),
    ("revenue:fees:p", AccountType.REVENUE, {}),
    ("asset:receivable:p", AccountType.ASSET, {"credits_must_not_exceed_debits": True}),
]

step = st.one_of(
    st.tuples(
        st.just("transfer"),
        st.integers(0, len(ACCOUNTS) - 1),
        st.integers(0, len(ACCOUNTS) - 1),
        st.integers(1, 5_000),
        st.booleans(),
    ),
    st.tuples(st.sampled_from(["post", "void", "reverse", "replay"]), st.integers(0, 50)),
)


class Model:
    def __init__(self, ids: list[int]) -> None:
        self.counters = {i: [0, 0, 0, 0] for i in ids}  # dp, cp, dpend, cpend

    def apply(self, debit: int, credit: int, amount: int, pending: bool, sign: int = 1) -> None:
        offset = 2 if pending else 0
        self.counters[debit][offset] += sign * amount
        self.counters[credit][offset + 1] += sign * amount


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_random_sequences_keep_the_book_balanced(session, steps) -> None:
    example = session.begin_nested()
    accounts = [ledger.open_account(session, c, t, "USD", **f) for c, t, f in ACCOUNTS]
    ids = [a.id for a in accounts]
    model = Model(ids)
    made: list[tuple[str, int, int, int, int, bool]] = []  # key, id, debit, credit, amount, pending
    status: dict[int, str] = {}
    for number, (kind, *args) in enumerate(steps):
        attempt = session.begin_nested()
        try:
            if kind == "transfer":
                a, b, amount, pending = args
                if a == b:
                    attempt.rollback()
                    continue
                key = f"k{number}"
                result = ledger.post_transfer(
                    session,
                    debit=ids[a],
                    credit=ids[b],
                    amount=amount,
                    code="T",
                    key=key,
                    recorded_by="hypothesis",
                    pending=pending,
                )
                model.apply(ids[a], ids[b], amount, pending)
                made.append((key, result.transfer_id, ids[a], ids[b], amount, pending))
                status[result.transfer_id] = "pending" if pending else "posted"
            elif made:
                key, tid, debit, credit, amount, pending = made[args[0] % len(made)]
                if kind == "replay":
                    again = ledger.post_transfer(
                        session,
                        debit=debit,
                        credit=credit,
                        amount=amount,
                        code="T",
                        key=key,
                        recorded_by="hypothesis",
                        pending=pending,
                    )
                    assert again.replayed and again.transfer_id == tid
                elif kind in ("post", "void"):
                    (ledger.post_pending if kind == "post" else ledger.void_pending)(session, tid)
                    if status[tid] == "pending":
                        model.apply(debit, credit, amount, True, sign=-1)
                        if kind == "post":
                            model.apply(debit, credit, amount, False)
                        status[tid] = "posted" if kind == "post" else "voided"
                else:
                    result = ledger.reverse_transfer(
                        session, tid, key=f"rev{tid}", recorded_by="hypothesis"
                    )
                    if not result.replayed:
                        model.apply(credit, debit, amount, False)
            attempt.commit()
        except (ledger.InsufficientFunds, ledger.NotPending, ledger.NotReversible):
            attempt.rollback()

    for account in accounts:
        session.refresh(account)
        stored = [
            account.debits_posted,
            account.credits_posted,
            account.debits_pending,
            account.credits_pending,
        ]
        assert stored == model.counters[account.id], account.code
        if account.debits_must_not_exceed_credits:
            assert account.debits_posted + account.debits_pending <= account.credits_posted
        if account.credits_must_not_exceed_debits:
            assert account.credits_posted + account.credits_pending <= account.debits_posted
    assert ledger.verify(session) == []
    assert sum(line.balance for line in ledger.trial_balance(session)) == 0
    example.rollback()
