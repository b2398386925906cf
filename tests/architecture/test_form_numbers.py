"""Every whole-number field of our forms is bounded to what a database column takes: a
form posted with twenty digits is a French form error (or a 404 for an id), never a
database error. (A query string is checked before any view: opsn.operations.input_guard.
A form field may hold long digits — a bank reference — so its bound is the field's.)"""

from __future__ import annotations

import importlib
from pathlib import Path

from django import forms

from opsn.kernel.inputs import BIGINT

ROOT = Path(__file__).resolve().parents[2]


def our_forms() -> list[type[forms.BaseForm]]:
    for path in sorted([*ROOT.glob("platform/opsn/*/forms.py"),
                        *ROOT.glob("tenants/opsn/*/forms.py")]):
        importlib.import_module(f"opsn.{path.parent.name}.forms")
    found, todo = [], [forms.Form, forms.ModelForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("opsn."):
                found.append(sub)
    return found


def test_every_whole_number_field_of_our_forms_fits_a_bigint():
    unbounded = []
    for form in our_forms():
        for name, field in form.base_fields.items():
            whole = isinstance(field, forms.IntegerField) and not isinstance(
                field, forms.DecimalField | forms.FloatField)
            if whole and (field.max_value is None or field.max_value > BIGINT
                          or field.min_value is None or field.min_value < -BIGINT):
                unbounded.append(f"{form.__module__}.{form.__name__}.{name}")
    assert unbounded == []
    assert len(our_forms()) > 10  # the forms were found
