"""The forms of the régies' pages. They only read what was typed (dates, choices) and
keep it for the page shown again; amounts stay text, checked by the domain, whose
messages (« 12,345 € a plus de deux décimales ») are the ones the agent sees."""

from __future__ import annotations

from typing import cast

from django import forms
from django.conf import settings

from opsn.finance.models import Budget, BudgetKind
from opsn.kernel.inputs import BIGINT
from opsn.online_payments.models import Environment
from opsn.regies.errors import RegieError
from opsn.regies.models import (
    AssignmentRole,
    ImportKind,
    Invoice,
    PayerKind,
    PaymentMode,
    Product,
    Regie,
)
from opsn.regies.services.imports import import_size_check
from opsn.regies.services.payments import REQUIRED_DETAILS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _choices(form: forms.Form, name: str, choices: list) -> None:
    """Choices known only with the régie (its modes, products, agents)."""
    cast(forms.ChoiceField, form.fields[name]).choices = choices


def _amount(label: str, **kw) -> forms.CharField:
    return forms.CharField(label=label, widget=forms.TextInput(
        attrs={"inputmode": "decimal", "class": "amount", "autocomplete": "off"}), **kw)


def modes_of(regie: Regie) -> list[tuple[str, str]]:
    """The modes the founding act accepts, cash first (the usual case at a counter)."""
    order = list(PaymentMode.values)
    return [(m, PaymentMode(m).label) for m in sorted(regie.accepted_modes, key=order.index)]


# The details each mode needs, as the domain names them (REQUIRED_DETAILS).
DETAIL_LABELS = {"cheque_number": "Numéro du chèque", "bank": "Banque",
                 "terminal_ref": "Référence du ticket du terminal (TPE)",
                 "note": "Note (de quel paiement s'agit-il ?)"}


class CounterForm(forms.Form):
    """A payment at the counter: a payer's invoices (each with what it still owes), or a
    product sold with a quantity to someone whose name is typed."""

    payer = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1,
                               max_value=BIGINT)
    invoices = forms.MultipleChoiceField(required=False, label="Factures réglées",
                                         widget=forms.CheckboxSelectMultiple)
    product = forms.ChoiceField(required=False, label="Produit vendu au guichet")
    quantity = forms.CharField(required=False, label="Quantité", initial="1",
                               widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                             "class": "short"}))
    payer_name = forms.CharField(required=False, max_length=200, label="Nom du payeur",
                                 widget=forms.TextInput(attrs={"autocomplete": "off"}))
    amount = _amount("Montant reçu (€)", required=False)
    mode = forms.ChoiceField(label="Mode de paiement", widget=forms.RadioSelect)

    def __init__(self, *args, regie: Regie, invoices: list[Invoice], **kwargs):
        super().__init__(*args, **kwargs)
        self.regie = regie
        self.open_invoices = invoices
        self.products = {str(p.pk): p for p in Product.objects.filter(regie=regie,
                                                                        is_active=True)}
        _choices(self, "mode", modes_of(regie))
        # Left empty, the amount is what is ticked and sold: not "optional" to the agent.
        self.fields["amount"].hide_optional = True  # type: ignore[attr-defined]
        self.fields["amount"].help_text = "pré-rempli avec ce qui est coché"
        _choices(self, "invoices", [(str(i.pk), i.number) for i in invoices])
        _choices(self, "product", [("", "— aucun —")] + [
            (pk, f"{p.name} ({p.unit_price} €)") for pk, p in self.products.items()])
        for invoice in invoices:
            self.fields[f"alloc_{invoice.pk}"] = forms.CharField(
                required=False, label=f"Montant affecté à la facture {invoice.number}",
                widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "short"}))
        for key, label in DETAIL_LABELS.items():
            self.fields[key] = forms.CharField(required=False, max_length=100, label=label)

    def detail_blocks(self):
        """Per mode that needs some: the fields to fill (shown only for that mode with
        JavaScript, all of them without)."""
        return [(mode, label, [self[key] for key in REQUIRED_DETAILS[mode]])
                for mode, label in self.fields["mode"].choices if mode in REQUIRED_DETAILS]

    def invoice_rows(self):
        chosen = set(self["invoices"].value() or [])
        return [{"invoice": i, "checked": str(i.pk) in chosen,
                 "alloc": self[f"alloc_{i.pk}"]} for i in self.open_invoices]


class ReversalForm(forms.Form):
    reason = forms.CharField(label="Motif de l'annulation", max_length=300,
                             required=False)


class JournalFilter(forms.Form):
    day = forms.DateField(label="Jour", required=False, widget=DATE)
    mode = forms.ChoiceField(label="Mode", required=False)
    agent = forms.ChoiceField(label="Agent", required=False)

    def __init__(self, *args, agents: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "mode", [("", "Tous"), *list(PaymentMode.choices)])
        _choices(self, "agent", [("", "Tous"), *agents])


class ClosingForm(forms.Form):
    day = forms.DateField(label="Journée", widget=forms.HiddenInput)
    notes = forms.CharField(label="Observations", required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, modes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.modes = modes
        for mode in modes:
            label = PaymentMode(mode).label
            self.fields[f"counted_{mode}"] = _amount(f"Compté ({label}, €)", required=False)
            self.fields[f"reason_{mode}"] = forms.CharField(
                label=f"Motif de l'écart ({label})", required=False, max_length=300)

    def rows(self):
        return [(mode, self[f"counted_{mode}"], self[f"reason_{mode}"]) for mode in self.modes]


class PayerForm(forms.Form):
    kind = forms.ChoiceField(label="Type", choices=PayerKind.choices)
    name = forms.CharField(label="Nom", max_length=200)
    address_line = forms.CharField(label="Adresse", max_length=250, required=False)
    postal_code = forms.CharField(label="Code postal", max_length=10, required=False)
    city = forms.CharField(label="Commune", max_length=120, required=False)
    email = forms.CharField(label="Courriel", max_length=254, required=False,
                            widget=forms.EmailInput)
    phone = forms.CharField(label="Téléphone", max_length=30, required=False)
    external_ref = forms.CharField(label="Référence dans le logiciel métier", max_length=60,
                                   required=False)
    invoices_by_email = forms.BooleanField(
        label="Recevoir ses factures par courriel", required=False, initial=True,
        help_text="chaque nouvelle facture part à l'adresse ci-dessus, avec son PDF")


INVOICE_LINES = 5


class InvoiceForm(forms.Form):
    """An invoice with up to five lines: a product of the régie (its label and price) or a
    free line; empty lines are ignored."""

    label = forms.CharField(label="Objet", max_length=200, required=False)
    number = forms.CharField(label="Numéro", max_length=30, required=False,
                             help_text="laissé vide : numéroté par la régie")
    issued_on = forms.DateField(label="Date de la facture", widget=DATE)
    due_on = forms.DateField(label="À payer avant le", widget=DATE)

    def __init__(self, *args, regie: Regie, **kwargs):
        super().__init__(*args, **kwargs)
        self.products = {str(p.pk): p for p in Product.objects.filter(regie=regie,
                                                                        is_active=True)}
        for n in range(1, INVOICE_LINES + 1):
            self.fields[f"line{n}_product"] = forms.ChoiceField(
                label=f"Produit (ligne {n})", required=False,
                choices=[("", "— ligne libre —")] + [
                    (pk, f"{p.name} ({p.unit_price} €)") for pk, p in self.products.items()])
            self.fields[f"line{n}_label"] = forms.CharField(
                label=f"Libellé (ligne {n})", max_length=200, required=False)
            self.fields[f"line{n}_quantity"] = forms.CharField(
                label=f"Quantité (ligne {n})", required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "short"}))
            self.fields[f"line{n}_unit_price"] = forms.CharField(
                label=f"Prix unitaire en € (ligne {n})", required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "short"}))

    def line_rows(self):
        return [[self[f"line{n}_{key}"] for key in ("product", "label", "quantity",
                                                     "unit_price")]
                for n in range(1, INVOICE_LINES + 1)]


class CancelForm(forms.Form):
    reason = forms.CharField(label="Motif", max_length=300, required=False)


class ErasureForm(forms.Form):
    """Erasing a payer's contact details on request: why, and a confirmation."""

    prefix = "effacement"
    reason = forms.CharField(
        label="Motif de l'effacement", max_length=300,
        help_text="Par exemple : demande du payeur par courriel du 2 décembre.",
        error_messages={"required": "Indiquez le motif de l'effacement.",
                        "max_length": "Le motif tient en 300 caractères au plus."})
    confirm = forms.BooleanField(
        label="Je confirme l'effacement du courriel, du téléphone et de l'adresse de ce "
              "payeur (irréversible)",
        error_messages={"required": "Cochez la case pour confirmer l'effacement."})


class RegieForm(forms.Form):
    """The founding act (acte constitutif). Creation asks for the number and the opening
    date, which an amendment never changes."""

    number = forms.CharField(label="Numéro de la régie", max_length=20)
    name = forms.CharField(label="Nom", max_length=200)
    founding_act = forms.CharField(label="Acte constitutif", max_length=200, required=False,
                                   help_text="par exemple : arrêté n° 2024-118 du 3 mai 2024")
    accepted_modes = forms.MultipleChoiceField(label="Modes d'encaissement autorisés",
                                               choices=PaymentMode.choices, required=False,
                                               widget=forms.CheckboxSelectMultiple)
    cash_limit = _amount("Encaisse maximale (€)")
    cash_float = _amount("Fonds de caisse (€)", required=False)
    deposit_period_days = forms.CharField(
        label="Périodicité des versements (jours)", initial="30",
        help_text="au moins une fois par mois : de 1 à 31 jours",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "short"}))
    accountant = forms.CharField(label="Comptable public assignataire", max_length=200,
                                 required=False)
    starts_on = forms.DateField(label="Ouverte le", widget=DATE)
    ends_on = forms.DateField(label="Fermée le", required=False, widget=DATE)
    # What the invoices print under « Comment payer » (set once the régie exists).
    iban = forms.CharField(label="IBAN du compte de la régie (virements)", max_length=50,
                           required=False,
                           help_text="imprimé sur les factures, avec la référence à indiquer")
    counter_hours = forms.CharField(label="Horaires du guichet", max_length=200,
                                    required=False,
                                    help_text="par exemple : lundi à vendredi, 8 h 30 – 12 h")

    def __init__(self, *args, amend: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if amend:  # what an amendment may not change
            del self.fields["number"]
            del self.fields["starts_on"]
        else:
            del self.fields["iban"]
            del self.fields["counter_hours"]


def _plan_code(label: str, datalist: str, help_text: str) -> forms.CharField:
    """A code of the M57 plan, typed (the list proposes them; the domain checks it)."""
    return forms.CharField(label=label, required=False, max_length=10, help_text=help_text,
                           widget=forms.TextInput(attrs={"list": datalist, "class": "short",
                                                         "inputmode": "numeric",
                                                         "autocomplete": "off"}))


def _nature(help_text: str = "compte M57, par exemple 7067") -> forms.CharField:
    return _plan_code("Compte par nature (M57)", "m57-natures", help_text)


def _fonction(help_text: str = "par exemple 281") -> forms.CharField:
    return _plan_code("Fonction (M57)", "m57-fonctions", help_text)


class ProductForm(forms.Form):
    code = forms.SlugField(label="Code", max_length=30,
                           help_text="court, sans espace : cantine, piscine-adulte…")
    name = forms.CharField(label="Libellé", max_length=200)
    unit_price = _amount("Prix unitaire (€)")
    is_active = forms.BooleanField(label="Proposé au guichet et sur les factures",
                                   required=False, initial=True)
    nature = _nature("vide : l'imputation par défaut de la régie")
    fonction = _fonction()


class ImputationForm(forms.Form):
    """The budget a régie collects for and its default M57 imputation."""

    budget = forms.ChoiceField(label="Budget", required=False)
    nature = _nature()
    fonction = _fonction()

    def __init__(self, *args, budgets: list[Budget], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "budget", [("", "Budget principal")] + [
            (str(b.pk), b.name) for b in budgets if b.kind == BudgetKind.ANNEX])


class BudgetForm(forms.Form):
    """A budget as the public accountant files it (the PES V2 header)."""

    kind = forms.ChoiceField(label="Type", choices=BudgetKind.choices)
    name = forms.CharField(label="Libellé du budget", max_length=100,
                           help_text="par exemple : Ville de Vénissieux – budget principal")
    siret = forms.CharField(label="SIRET du budget", max_length=20,
                            help_text="14 chiffres (IdColl du PES)",
                            widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    collectivity_code = forms.CharField(label="Code collectivité (CodCol)", max_length=10,
                                        help_text="3 caractères, donné par le comptable public",
                                        widget=forms.TextInput(attrs={"class": "short"}))
    budget_code = forms.CharField(label="Code budget (CodBud)", max_length=10,
                                  help_text="2 caractères, donné par le comptable public",
                                  widget=forms.TextInput(attrs={"class": "short"}))
    post_code = forms.CharField(label="Code du poste comptable (IdPost)", max_length=10,
                                help_text="codique DGFiP du poste : 6 chiffres",
                                widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                              "class": "short"}))
    post_name = forms.CharField(label="Poste comptable", max_length=100,
                                help_text="par exemple : SGC de Vénissieux")
    sender_code = forms.CharField(label="Sigle de l'émetteur des fichiers PES", max_length=30,
                                  required=False)
    sender_address = forms.CharField(label="Adresse de l'émetteur", max_length=100,
                                     required=False)
    operator = forms.CharField(label="Tiers de télétransmission", max_length=100,
                               required=False,
                               help_text="l'opérateur qui transmet les fichiers signés à Hélios")


class PayfipForm(forms.Form):
    # No length here: the domain says what a client number is, in its own words.
    numcli = forms.CharField(label="Numéro client PayFiP",
                             help_text="6 chiffres, donnés par la DGFiP à l'adhésion à PayFiP")
    environment = forms.ChoiceField(
        label="Environnement", choices=Environment.choices,
        help_text="test, puis activation pour la recette avec la DGFiP, puis production")
    enabled = forms.BooleanField(label="Proposer le paiement en ligne aux usagers",
                                 required=False, initial=True)


class AssignmentForm(forms.Form):
    account = forms.ChoiceField(label="Agent")
    role = forms.ChoiceField(label="Fonction", choices=AssignmentRole.choices)
    starts_on = forms.DateField(label="À partir du", widget=DATE)

    def __init__(self, *args, agents: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "account", [("", "— choisir —"), *agents])


class EndForm(forms.Form):
    ends_on = forms.DateField(label="Fin le", widget=DATE)


class HandoverForm(forms.Form):
    incoming = forms.ChoiceField(label="Titulaire entrant")
    on = forms.DateField(label="Date de la remise", widget=DATE)
    notes = forms.CharField(label="Observations", required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, agents: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "incoming", [("", "— choisir —"), *agents])


class StandInForm(forms.Form):
    account = forms.ChoiceField(label="Mandataire suppléant")
    starts_on = forms.DateField(label="Du", widget=DATE)
    ends_on = forms.DateField(label="Au (inclus)", widget=DATE)
    reason = forms.CharField(label="Motif", max_length=200, required=False)

    def __init__(self, *args, suppleants: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "account", [("", "— choisir —"), *suppleants])


class MergeForm(forms.Form):
    surviving = forms.ChoiceField(label="Régie qui reprend (absorbante)")
    on = forms.DateField(label="Date de la fusion", widget=DATE)

    def __init__(self, *args, regies: list[Regie], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "surviving", [("", "— choisir —")] + [
            (r.number, f"{r.number} {r.name}") for r in regies])


class AuditFilter(forms.Form):
    actor = forms.CharField(label="Agent (compte)", required=False)
    code = forms.ChoiceField(label="Action", required=False)
    q = forms.CharField(label="Texte", required=False,
                        widget=forms.TextInput(attrs={"type": "search"}))
    since = forms.DateField(label="Du", required=False, widget=DATE)
    until = forms.DateField(label="Au", required=False, widget=DATE)

    def __init__(self, *args, codes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        _choices(self, "code", [("", "Toutes")] + [(c, c) for c in codes])


class PeriodForm(forms.Form):
    start = forms.DateField(label="Du", widget=DATE)
    end = forms.DateField(label="Au (inclus)", widget=DATE)


class ImportForm(forms.Form):
    """One file of one kind (the form's prefix); CSV exports may come in Windows-1252
    (Excel's), a bank statement is XML and says its own encoding."""

    file = forms.FileField(label="Fichier")
    encoding = forms.ChoiceField(label="Encodage du fichier", required=False, choices=[
        ("utf-8", "UTF-8 (le plus courant)"), ("windows-1252", "Windows-1252 (Excel)")])

    def __init__(self, *args, kind: str, **kwargs):
        kwargs["prefix"] = kind
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.label = ImportKind(kind).label
        if kind == ImportKind.BANK:
            del self.fields["encoding"]
        else:
            self.fields["encoding"].hide_optional = True  # type: ignore[attr-defined]
        self.fields["file"].help_text = (
            f"{settings.OPSN_IMPORT_MAX_MEGABYTES} Mo au plus par fichier.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:  # before the file is read (the service checks again: the command line's)
            import_size_check(upload.size)
        except RegieError as exc:
            raise forms.ValidationError(exc.message) from exc
        return upload


class QueuedPostForm(forms.Form):
    invoices = forms.CharField(label="Facture(s) à régler", required=False, max_length=300,
                               help_text="numéros séparés par des espaces")
    payer = forms.CharField(label="Ou le payeur (code de rattachement ou référence)",
                            required=False, max_length=60)


class DismissForm(forms.Form):
    reason = forms.CharField(label="Motif", max_length=300, required=False)


class ResolveForm(forms.Form):
    """The titulaire settles an online payment in anomaly: what was checked, what is done."""

    reason = forms.CharField(label="Ce que vous avez vérifié, ce qui est fait", max_length=300,
                             required=False)
