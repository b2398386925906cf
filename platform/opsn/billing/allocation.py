"""Sharing an amount between communes, exact to the cent: the largest remainder method.

Each commune's exact share is ``total × weight / sum of weights``. Every commune first gets
its share rounded down to the cent; the cents left over (fewer than the number of
communes) go one each to the communes whose dropped fractions were the largest. Ties are
broken by the commune's key (the INSEE code), ascending, so the result never depends on
the order of the input.

Properties (tested on random inputs): the shares add up exactly to the total; each share
is its exact value rounded down or up; a commune with a larger weight never gets less.
Integer arithmetic throughout: no float, no rounding error.
"""

from __future__ import annotations

from collections.abc import Mapping


def largest_remainder(total_cents: int, weights: Mapping[str, int]) -> dict[str, int]:
    if total_cents < 0:
        raise ValueError("the amount to share cannot be negative")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights cannot be negative")
    weight_sum = sum(weights.values())
    if not weights:
        return {}
    if weight_sum == 0:
        raise ValueError("the weights add up to zero: nothing to share the amount by")
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for key, weight in weights.items():
        floor, remainder = divmod(total_cents * weight, weight_sum)
        shares[key] = floor
        remainders.append((remainder, key))
    left = total_cents - sum(shares.values())
    # Largest remainder first; equal remainders: smallest key first.
    remainders.sort(key=lambda item: (-item[0], item[1]))
    for _, key in remainders[:left]:
        shares[key] += 1
    return shares
