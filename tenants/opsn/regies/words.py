"""Amounts in words, as a French receipt writes them (« douze euros et cinquante
centimes »)."""

from decimal import Decimal

from num2words import num2words


def amount_in_words(amount: Decimal) -> str:
    cents_total = int((abs(amount) * 100).to_integral_value())
    euros, cents = divmod(cents_total, 100)
    parts = []
    if euros or not cents:
        words = num2words(euros, lang="fr")
        # « un million d'euros », « deux milliards d'euros », but « mille euros »
        unit = "d'euros" if euros >= 1_000_000 and euros % 1_000_000 == 0 else (
            "euro" if euros <= 1 else "euros")
        parts.append(f"{words} {unit}")
    if cents:
        parts.append(f"{num2words(cents, lang='fr')} centime{'s' if cents > 1 else ''}")
    text = " et ".join(parts)
    return f"moins {text}" if amount < 0 else text
