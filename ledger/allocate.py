"""Splitting an amount between parties by weights, to the cent (largest remainder method)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar, overload

K = TypeVar("K", bound=Hashable)


def _check(total: int, weights: Sequence[int]) -> None:
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"total must be a non-negative integer, not {total!r}")
    if not weights:
        raise ValueError("weights must not be empty")
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValueError(f"weights must be non-negative integers, not {weight!r}")
    if sum(weights) <= 0:
        raise ValueError("weights must have a positive sum")


def _largest_remainder(total: int, weights: Sequence[int], tiebreak: Sequence[int]) -> list[int]:
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    leftover = total - sum(parts)
    # Largest remainder first; equal remainders go to the larger weight, then by tiebreak, so
    # the outcome depends on what the parties are, never on the order they were listed in.
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], tiebreak[i]))
    for index in order[:leftover]:
        parts[index] += 1
    return parts


@overload
def allocate(total: int, weights: Mapping[K, int]) -> dict[K, int]: ...
@overload
def allocate(total: int, weights: Sequence[int]) -> list[int]: ...


def allocate(total: int, weights: Mapping[K, int] | Sequence[int]) -> dict[K, int] | list[int]:
    """Split ``total`` minor units in proportion to ``weights``.

    The parts are non-negative integers that always add up to ``total``. Each part is the
    floor of its exact share; the cents left over go one each to the largest remainders.

    Given a mapping ``{party: weight}``, returns ``{party: part}`` and ties between equal
    weights go to the smallest key: fully independent of insertion order. Given a sequence,
    returns a list; ties between equal weights go to the earlier position, so a permutation
    of the input only permutes the parts among equal weights.
    """
    if isinstance(weights, Mapping):
        keys = sorted(weights)
        values = [weights[k] for k in keys]
        _check(total, values)
        return dict(zip(keys, _largest_remainder(total, values, range(len(keys))), strict=True))
    values = list(weights)
    _check(total, values)
    return _largest_remainder(total, values, range(len(values)))
