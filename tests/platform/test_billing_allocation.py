"""The largest remainder rule: shares add up exactly, for any populations and amount."""

from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsn.billing.allocation import largest_remainder

populations = st.dictionaries(
    keys=st.from_regex(r"[0-9]{5}", fullmatch=True),
    values=st.integers(min_value=0, max_value=2_200_000),
    min_size=1, max_size=60,
).filter(lambda d: sum(d.values()) > 0)
amounts = st.integers(min_value=0, max_value=10**11)  # up to a billion euros, in cents


@given(populations, amounts)
def test_shares_add_up_exactly_to_the_amount(weights, total):
    assert sum(largest_remainder(total, weights).values()) == total


@given(populations, amounts)
def test_each_share_is_its_exact_value_rounded_down_or_up(weights, total):
    shares = largest_remainder(total, weights)
    weight_sum = sum(weights.values())
    for key, share in shares.items():
        exact = Fraction(total * weights[key], weight_sum)
        assert exact - 1 < share < exact + 1


@given(populations, amounts)
def test_a_larger_commune_never_pays_less(weights, total):
    shares = largest_remainder(total, weights)
    ordered = sorted(weights, key=lambda k: weights[k])
    for smaller, larger in pairwise(ordered):
        if weights[larger] > weights[smaller]:
            assert shares[larger] >= shares[smaller]


@given(populations, amounts)
def test_the_result_does_not_depend_on_the_order_of_the_communes(weights, total):
    reversed_weights = dict(reversed(list(weights.items())))
    assert largest_remainder(total, weights) == largest_remainder(total, reversed_weights)


def test_a_worked_example():
    # 100.00 € between three communes of equal size: 33.34 + 33.33 + 33.33, the extra cent
    # to the smallest INSEE code.
    assert largest_remainder(10_000, {"69259": 1, "69256": 1, "69273": 1}) == {
        "69256": 3334, "69259": 3333, "69273": 3333}


def test_rounding_each_share_on_its_own_would_lose_cents():
    weights = {"a": 1, "b": 1, "c": 1}
    independent = sum(round(Fraction(100, 3)) for _ in weights)
    assert independent == 99  # the naive way loses a cent
    assert sum(largest_remainder(100, weights).values()) == 100


@pytest.mark.parametrize("total, weights, message", [
    (-1, {"a": 1}, "negative"),
    (100, {"a": 0, "b": 0}, "zero"),
    (100, {"a": -1, "b": 2}, "negative"),
])
def test_impossible_allocations_are_refused(total, weights, message):
    with pytest.raises(ValueError, match=message):
        largest_remainder(total, weights)
