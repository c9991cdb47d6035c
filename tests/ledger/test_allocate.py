"""allocate(): largest remainder, exact to the cent, independent of input order."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import allocate

weights_lists = st.lists(st.integers(0, 10_000), min_size=1, max_size=12).filter(
    lambda ws: sum(ws) > 0
)


@given(total=st.integers(0, 10**12), weights=weights_lists)
def test_parts_are_non_negative_and_sum_to_the_total(total, weights) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert all(part >= 0 for part in parts)
    assert len(parts) == len(weights)


@given(total=st.integers(0, 10**12), weights=weights_lists)
def test_each_part_is_within_one_cent_of_its_exact_share(total, weights) -> None:
    whole = sum(weights)
    for weight, part in zip(weights, allocate(total, weights), strict=True):
        assert total * weight // whole <= part <= total * weight // whole + 1
        if weight == 0:
            assert part == 0


def _parts_by_weight(weights: list[int], parts: list[int]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = defaultdict(list)
    for weight, part in zip(weights, parts, strict=True):
        grouped[weight].append(part)
    return {weight: sorted(values) for weight, values in grouped.items()}


@given(total=st.integers(0, 10**9), weights=weights_lists, data=st.data())
def test_order_of_the_weights_does_not_matter(total, weights, data) -> None:
    shuffled = data.draw(st.permutations(weights))
    assert _parts_by_weight(weights, allocate(total, weights)) == _parts_by_weight(
        shuffled, allocate(total, shuffled)
    )


@given(
    total=st.integers(0, 10**9),
    weights=st.dictionaries(st.integers(1, 10**6), st.integers(0, 1000), min_size=1).filter(
        lambda d: sum(d.values()) > 0
    ),
    data=st.data(),
)
def test_a_mapping_gives_every_party_the_same_part_in_any_order(total, weights, data) -> None:
    keys = data.draw(st.permutations(list(weights)))
    reordered = {key: weights[key] for key in keys}
    assert allocate(total, weights) == allocate(total, reordered)
    assert sum(allocate(total, weights).values()) == total


def test_known_splits() -> None:
    assert allocate(100, [3333, 3333, 3334]) == [33, 33, 34]
    assert allocate(1_000_001, [3333, 3333, 3334]) == [333_300, 333_300, 333_401]
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate(5, {"b": 1, "a": 1}) == {"a": 3, "b": 2}
    assert allocate(1001, [6000, 4000]) == [601, 400]
    assert allocate(0, [1, 2]) == [0, 0]


@pytest.mark.parametrize(
    ("total", "weights"),
    [(-1, [1]), (10, []), (10, [0, 0]), (10, [-1, 2]), (10, [1.5]), (1.0, [1]), (10, [True])],
)
def test_bad_input_is_refused(total, weights) -> None:
    with pytest.raises(ValueError):
        allocate(total, weights)
