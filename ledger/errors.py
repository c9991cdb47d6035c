"""What the ledger refuses, one exception per reason. All derive from LedgerError."""

from __future__ import annotations

from collections.abc import Sequence


class LedgerError(Exception):
    """Base of every error the ledger raises. The caller's transaction must be rolled back."""


class InvalidTransfer(LedgerError):
    """The transfer is malformed: amount not a positive integer, same account twice, ..."""


class InvalidAccount(LedgerError):
    """An account definition is malformed (bad code, type or currency)."""


class AccountNotFound(LedgerError):
    def __init__(self, ref: int | str) -> None:
        super().__init__(f"no ledger account {ref!r}")
        self.ref = ref


class CurrencyMismatch(LedgerError):
    def __init__(self, debit: str, credit: str, debit_currency: str, credit_currency: str):
        super().__init__(
            f"cannot move money between {debit} ({debit_currency}) and {credit} ({credit_currency})"
        )


class AccountConflict(LedgerError):
    """An account with this code exists with a different type, currency or flags."""


class EmptyJournal(LedgerError):
    """A journal must hold at least one transfer."""


class InsufficientFunds(LedgerError):
    """Posting would break an account's overdraft rule."""

    def __init__(self, account_code: str, available: int, currency: str) -> None:
        super().__init__(
            f"{account_code} would be overdrawn: {available} {currency} (minor units) available"
        )
        self.account_code = account_code
        self.available = available
        self.currency = currency


class IdempotencyConflict(LedgerError):
    """The idempotency key was used before for a different request.

    ``differs`` names what differs from the first request when the ledger knows: "transfers",
    "description", "recorded_by", "effective_at".
    """

    def __init__(self, key: str, differs: Sequence[str] = ()) -> None:
        detail = f" (its {', '.join(differs)} differ)" if differs else ""
        super().__init__(
            f"idempotency key {key!r} was already used for a different request{detail}"
        )
        self.key = key
        self.differs = tuple(differs)


class TransferNotFound(LedgerError):
    def __init__(self, ref: int | str) -> None:
        super().__init__(f"no transfer {ref!r}")
        self.ref = ref


class NotPending(LedgerError):
    """Only a pending transfer can be posted or voided."""


class NotReversible(LedgerError):
    """Only a posted transfer that was not reversed yet can be reversed."""
