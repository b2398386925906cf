import csv

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from opsn.accounts.auth import commune_role_required, commune_roles
from opsn.agents.models import AgentRole, Role
from opsn.billing import issuing
from opsn.billing.computation import BillingError
from opsn.billing.models import Invoice
from opsn.billing.views import invoice_file
from opsn.branding.forms import NoticesForm, ProfileForm
from opsn.branding.images import served_as
from opsn.branding.models import PublicNotices
from opsn.branding.notices import commune_notices
from opsn.branding.processing import COLUMNS, register
from opsn.branding.selectors import current_notices_row, current_profile
from opsn.communes.models import CommuneModule
from opsn.communes.routing import CommuneRequest
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.regies.verification import receipt_verified


def home(request: CommuneRequest) -> HttpResponse:
    modules = (CommuneModule.objects.current().filter(commune=request.commune)
               .select_related("module").order_by("module__position"))
    roles = commune_roles(request)
    return render(request, "commune_site/home.html",
                  {"modules": [cm.module for cm in modules], "roles": roles,
                   "is_admin": Role.ADMINISTRATOR in roles})


@commune_role_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def edit_profile(request: CommuneRequest) -> HttpResponse:
    profile = current_profile()
    form = ProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST":
        if form.is_valid():
            with atomic():
                form.save()
            messages.success(request, "L'identité de la commune a été enregistrée.")
            return redirect("commune_site:profile")
        messages.error(request, "Le formulaire contient des erreurs : rien n'a été enregistré.")
    return render(request, "commune_site/profile.html",
                  {"form": form, "domains": request.commune.domains.all()},
                  status=400 if form.errors else 200)


@commune_role_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def edit_notices(request: CommuneRequest) -> HttpResponse:
    """The accessibility statement, legal notices, privacy notice and « Je donne mon
    avis » button of the commune's site: a new form starts from the template's values."""
    profile = current_profile()
    form = NoticesForm(request.POST or None, instance=current_notices_row()
                       or PublicNotices(pk=1), profile=profile)
    if request.method == "POST":
        if form.is_valid():
            with atomic():
                form.save()
            messages.success(request, "Les mentions publiques du site ont été enregistrées.")
            return redirect("commune_site:notices")
        messages.error(request, "Le formulaire contient des erreurs : rien n'a été enregistré.")
    return render(request, "commune_site/notices.html", {"form": form},
                  status=400 if form.errors else 200)


def _register(request: CommuneRequest) -> list[dict]:
    notices = commune_notices(current_profile(), current_notices_row(),
                              request.get_host().rsplit(":", 1)[0].lower())
    return register(notices)


@commune_role_required(Role.ADMINISTRATOR)
def processing_register_csv(request: CommuneRequest) -> HttpResponse:
    """The register of processing activities (RGPD art. 30) the platform performs for the
    commune, for its DPO's register tool or a spreadsheet."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="registre-des-traitements.csv"'
    writer = csv.DictWriter(response, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(_register(request))
    return response


@commune_role_required(Role.ADMINISTRATOR)
def processing_register_json(request: CommuneRequest) -> JsonResponse:
    response = JsonResponse({"commune": request.commune.name,
                             "insee_code": request.commune.insee_code,
                             "traitements": _register(request)},
                            json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = 'attachment; filename="registre-des-traitements.json"'
    return response


@commune_role_required(Role.ADMINISTRATOR)
def agents(request: CommuneRequest) -> HttpResponse:
    return render(request, "commune_site/agents.html",
                  {"agent_roles": AgentRole.objects.all()})


def _image(field: str):
    def view(request: CommuneRequest) -> FileResponse:
        image = getattr(current_profile(), field)
        if not image:
            raise Http404("Aucune image.")
        try:
            file = image.open("rb")
        except FileNotFoundError as exc:
            raise Http404("Image introuvable.") from exc
        # The type Pillow reads in the file, never the one its name suggests; anything
        # else is a download, never rendered by the browser.
        verified = served_as(file)
        if verified is None:
            response = FileResponse(file, as_attachment=True, filename=f"{field}.bin",
                                    content_type="application/octet-stream")
        else:
            content_type, extension = verified
            response = FileResponse(file, content_type=content_type,
                                    filename=f"{field}.{extension}")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    return view


logo = _image("logo")
emblem = _image("emblem")


@commune_role_required(Role.ADMINISTRATOR, Role.FINANCE)
@require_http_methods(["GET", "POST"])
def operator_invoices(request: CommuneRequest) -> HttpResponse:
    """The operator's invoices to this commune; the administrator contests from here."""

    own = Invoice.objects.filter(insee_code=request.commune.insee_code)
    if request.method == "POST":
        invoice = own.filter(number=request.POST.get("number", "")).first()
        if invoice is None:
            raise Http404("Aucun titre de ce numéro pour la commune.")
        if Role.ADMINISTRATOR not in commune_roles(request):
            messages.error(request, "Seul l'administrateur de la commune peut contester.")
        else:
            try:
                issuing.invoice_contest(invoice=invoice, reason=request.POST.get("reason", ""))
                messages.success(request, f"Contestation du titre {invoice.number} envoyée à "
                                          "l'opérateur.")
            except BillingError as exc:
                messages.error(request, str(exc))
        return redirect("commune_site:operator_invoices")
    return render(request, "commune_site/operator_invoices.html",
                  {"invoices": own.order_by("-year", "number")})


@commune_role_required(Role.ADMINISTRATOR, Role.FINANCE)
def operator_invoice_pdf(request: CommuneRequest, number: str) -> FileResponse:
    invoice = Invoice.objects.filter(insee_code=request.commune.insee_code,
                                     number=number).first()
    if invoice is None:
        raise Http404("Aucun titre de ce numéro pour la commune.")
    return invoice_file(invoice)


def verify_receipt(request: CommuneRequest) -> HttpResponse:
    """Public: is this receipt authentic? Its amount and date, never who paid."""

    typed = {k: request.GET.get(k, "").strip() for k in ("regie", "quittance", "code")}
    asked = any(typed.values())
    entry = receipt_verified(regie_number=typed["regie"], receipt=typed["quittance"],
                             code=typed["code"]) if asked else None
    return render(request, "commune_site/verify_receipt.html",
                  {"typed": typed, "asked": asked, "entry": entry,
                   "amount": euros(entry.amount) if entry else ""},
                  status=404 if asked and entry is None else 200)
