"""Amounts as the régies' pages write them (1 234,50 €), and form fields with their
error next to them."""

from __future__ import annotations

from django import template

from opsn.kernel import money
from opsn.regies.models import InvoiceStatus, PaymentMode

register = template.Library()


@register.filter
def euros(value) -> str:
    if value is None or value == "":
        return ""
    return money.euros(value)


@register.filter
def cents(value) -> str:
    """An amount kept in cents (PayFiP's), written for people."""
    if value is None or value == "":
        return ""
    return money.format_cents(int(value))


@register.filter
def mode_label(value) -> str:
    try:
        return str(PaymentMode(value).label)
    except ValueError:
        return value


@register.filter
def invoice_status(value) -> str:
    """The status label (a generated column has no get_status_display)."""

    try:
        return str(InvoiceStatus(value).label)
    except ValueError:
        return value


@register.filter
def get(mapping, key):
    """``mapping|get:key`` (a form field by a computed name, a dict entry)."""
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return None


@register.inclusion_tag("regie_pages/_field.html")
def field(bound, autofocus=False, hint=""):
    """Label, input, help text and error of one field (the error's id is the one Django
    puts in the input's aria-describedby)."""
    attrs = {"autofocus": True} if autofocus else {}
    return {"field": bound, "widget": bound.as_widget(attrs=attrs) if attrs else bound,
            "hint": hint}
