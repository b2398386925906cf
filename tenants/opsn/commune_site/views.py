import csv
import io

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import account_id, actor_of, commune_role_required, commune_roles
from opsn.agents.models import AgentRole, Role
from opsn.agents.team import TeamError
from opsn.billing import issuing
from opsn.billing import services as billing_services
from opsn.billing.computation import BillingError
from opsn.billing.models import Invoice, SubscriptionRequest
from opsn.billing.views import invoice_file
from opsn.branding.forms import NoticesForm, ProfileForm
from opsn.branding.images import served_as
from opsn.branding.models import PublicNotices
from opsn.branding.notices import commune_notices
from opsn.branding.processing import COLUMNS, register, register_ods
from opsn.branding.selectors import current_notices_row, current_profile
from opsn.communes import team
from opsn.communes.errors import RegistryError
from opsn.communes.models import CommuneModule, Module
from opsn.communes.routing import CommuneRequest
from opsn.kernel.addresses import client_ip
from opsn.kernel.errors import DomainError
from opsn.kernel.money import euros
from opsn.kernel.pages import paginate
from opsn.kernel.tenancy import atomic
from opsn.kernel.urls import public_url, request_domain
from opsn.online_payments import by_reference
from opsn.online_payments.errors import OnlinePaymentError
from opsn.online_payments.models import OnlinePayment, PayfipAccount
from opsn.online_payments.payfip import provider
from opsn.online_payments.services import online_payment_outcome
from opsn.regies.documents import receipt_pdf
from opsn.regies.models import PaymentMode
from opsn.regies.verification import receipt_verified


def home(request: CommuneRequest) -> HttpResponse:
    """The citizen's way in: pay an invoice, « Mes paiements », check a receipt, the
    commune's contact; the services it offers by their names (never a module's code)."""
    modules = (CommuneModule.objects.current().filter(commune=request.commune)
               .select_related("module").order_by("module__position"))
    roles = commune_roles(request)
    offered = [cm.module for cm in modules]
    pays_online = any(m.code == "regies" for m in offered) and PayfipAccount.objects.filter(
        enabled=True, regie__accepted_modes__contains=[PaymentMode.ONLINE]).exists()
    return render(request, "commune_site/home.html",
                  {"modules": offered, "roles": roles, "pays_online": pays_online,
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
def processing_register_ods(request: CommuneRequest) -> HttpResponse:
    """The same as an OpenDocument spreadsheet (LibreOffice, Excel)."""
    response = HttpResponse(register_ods(_register(request)),
                            content_type="application/vnd.oasis.opendocument.spreadsheet")
    response["Content-Disposition"] = 'attachment; filename="registre-des-traitements.ods"'
    return response


@commune_role_required(Role.ADMINISTRATOR)
def processing_register_json(request: CommuneRequest) -> JsonResponse:
    response = JsonResponse({"commune": request.commune.name,
                             "insee_code": request.commune.insee_code,
                             "traitements": _register(request)},
                            json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = 'attachment; filename="registre-des-traitements.json"'
    return response


def _team(request: CommuneRequest, *, error: DomainError | None = None, typed=None,
          status: int = 200) -> HttpResponse:
    by_account: dict[str, list[AgentRole]] = {}
    for granted in AgentRole.objects.all():
        by_account.setdefault(granted.account, []).append(granted)
    page = paginate(request, list(by_account.items()))
    return render(request, "commune_site/agents.html", {
        "page": page, "roles": Role.choices, "error": error, "typed": typed or {},
        "invitations": team.invitations_pending(commune=request.commune),
        "me": actor_of(request).account}, status=status)


@commune_role_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def agents(request: CommuneRequest) -> HttpResponse:
    """The commune's team: invite an agent by e-mail with a role; give, take a role;
    remove an agent (appointments to a régie stay on the régie's page)."""
    if request.method == "GET":
        return _team(request)
    action = request.POST.get("action", "invite")
    email, role = request.POST.get("email", ""), request.POST.get("role", "")
    actor = actor_of(request)
    try:
        if action == "invite":
            granted = team.agent_invite(commune=request.commune, email=email, role=role,
                                        actor=actor)
            done = (f"{granted.account} est invité comme « {granted.get_role_display()} » : "
                    "un courriel l'invite à se connecter.")
        elif action == "give":
            granted = team.role_give(commune=request.commune, email=email, role=role,
                                     actor=actor)
            done = f"{granted.account} a désormais le rôle « {granted.get_role_display()} »."
        elif action == "take":
            team.role_take(commune=request.commune, email=email, role=role, actor=actor)
            done = f"Rôle retiré à {email.strip().lower()}."
        elif action == "resend":
            invitation = team.invitation_resend(commune=request.commune,
                                                pk=request.POST.get("pk", "")[:12], actor=actor)
            done = f"Invitation renvoyée à {invitation.account}."
        elif action == "cancel":
            invitation = team.invitation_cancel(commune=request.commune,
                                                pk=request.POST.get("pk", "")[:12], actor=actor)
            done = (f"Invitation de {invitation.account} annulée : ses rôles dans la commune "
                    "sont retirés.")
        elif action == "remove":
            team.agent_remove(commune=request.commune, email=email, actor=actor)
            done = f"{email.strip().lower()} ne fait plus partie des agents de la commune."
        else:
            raise TeamError("Action inconnue.")
    except (TeamError, RegistryError) as exc:
        if action == "invite":
            return _team(request, error=exc, typed={"email": email[:254], "role": role},
                         status=exc.http_status)
        messages.error(request, exc.message)
        return redirect("commune_site:agents")
    messages.success(request, done)
    return redirect("commune_site:agents")


@commune_role_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def applications(request: CommuneRequest) -> HttpResponse:
    """The commune's applications: ask the operator for one, to stop one, or to leave;
    the requests and the operator's answers."""
    commune = request.commune
    error: DomainError | None = None
    typed: dict[str, str] = {}
    if request.method == "POST":
        typed = {k: request.POST.get(k, "")[:600] for k in ("action", "module", "note")}
        if typed["action"] == "leave" and request.POST.get("confirmed") != "leave":
            error = BillingError("Cochez la case pour confirmer que la commune demande à "
                                 "quitter la plateforme.", field="confirmed")
        else:
            try:
                asked = billing_services.subscription_ask(
                    commune=commune, action=typed["action"], module=typed["module"] or None,
                    note=typed["note"], by=account_id(request))
            except BillingError as exc:
                error = exc
            else:
                messages.success(request, f"Demande envoyée à l'opérateur : {asked.describe()}.")
                return redirect("commune_site:applications")
    current = CommuneModule.objects.filter(commune_id=commune.pk).current().select_related(
        "module")
    held = {cm.module_id for cm in current}
    return render(request, "commune_site/applications.html", {
        "current": current, "error": error, "typed": typed,
        "others": Module.objects.filter(is_active=True).exclude(code__in=held),
        "requests": paginate(request, SubscriptionRequest.objects.filter(
            commune_id=commune.pk).select_related("module").order_by("-created_at")),
        "deadline": billing_services.change_deadline(timezone.localdate().year),
    }, status=error.http_status if error else 200)


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
                issuing.invoice_contest(invoice=invoice, reason=request.POST.get("reason", ""),
                                        by=account_id(request))
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


# --- « Payer une facture »: paying without an account ------------------------------------

EXPIRED = ("Le délai pour payer cette facture est dépassé (30 minutes) : saisissez à "
           "nouveau son numéro et son code.")
UNKNOWN_LINK = ("Ce lien de paiement n'est pas (ou plus) valable. Le résultat d'un paiement "
                "et sa quittance s'ouvrent depuis le lien où le paiement vous a ramené, "
                "pendant 30 jours ; la régie peut aussi vous donner la quittance.")


def _status(exc: OnlinePaymentError) -> int:
    # An unknown number and a wrong code: a form to correct, like an empty field.
    return exc.http_status if exc.http_status in (429, 502) else 400


def _owed_page(request: CommuneRequest, owed: by_reference.Owed, *, errors=None,
               email: str = "", status: int = 200) -> HttpResponse:
    return render(request, "commune_site/pay_owed.html", {
        "owed": owed, "token": by_reference.invoice_token(owed.invoice), "email": email,
        "errors": errors or {}}, status=status)


@require_http_methods(["GET", "POST"])
def pay(request: CommuneRequest) -> HttpResponse:
    """The invoice number (prefilled from the invoice's QR code, ``?facture=``) and its
    code; right, what the invoice still asks."""

    source = request.POST if request.method == "POST" else request.GET
    typed = {"number": (source.get("number") or request.GET.get("facture") or "")[:60],
             "code": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            invoice = by_reference.invoice_by_reference(
                number=request.POST.get("number", ""), code=request.POST.get("code", ""),
                ip=client_ip(request))
        except OnlinePaymentError as exc:
            errors[exc.field or "code"] = exc.message
            status = _status(exc)
        else:
            return _owed_page(request, by_reference.owed(invoice))
    return render(request, "commune_site/pay.html", {"typed": typed, "errors": errors},
                  status=status)


@require_POST
def pay_start(request: CommuneRequest) -> HttpResponse:
    """« Payer avec PayFiP »: start the payment, send the browser to PayFiP's page."""

    invoice = by_reference.invoice_of(request.POST.get("token", ""))
    if invoice is None:
        return render(request, "commune_site/pay.html",
                      {"typed": {"number": "", "code": ""}, "errors": {"code": EXPIRED}},
                      status=400)
    email = request.POST.get("email", "")[:254]
    owed = by_reference.owed(invoice)
    if not owed.payable:
        return _owed_page(request, owed, status=409)
    notify = reverse("online_payments:notification")
    # Addresses handed to PayFiP come from the deployment's public base, never from the
    # request's Host header (its port is whatever the client sent).
    notify_url = public_url(request.commune.primary_domain or "", notify)

    def return_url_for(payment: OnlinePayment) -> str:
        return public_url(request_domain(request), reverse(
            "commune_site:pay_result", args=[by_reference.payment_token(payment)]))

    try:
        payment = by_reference.reference_payment_start(
            invoice=invoice, email=email, ip=client_ip(request), notify_url=notify_url,
            return_url_for=return_url_for)
    except OnlinePaymentError as exc:
        return _owed_page(request, owed, errors={exc.field or "payment": exc.message},
                          email=email, status=exc.http_status)
    return redirect(provider().payment_url(payment.idop or ""))


def pay_result(request: CommuneRequest, token: str) -> HttpResponse:
    """Back from PayFiP: what happened, and the receipt when paid."""

    payment = by_reference.payment_of(token)
    if payment is None:
        return render(request, "commune_site/pay_result.html", {"error": UNKNOWN_LINK},
                      status=404)
    outcome = online_payment_outcome(payment=payment)
    return render(request, "commune_site/pay_result.html",
                  {"outcome": outcome, "token": token,
                   "receipt_to": outcome.payment.receipt_to})


def pay_receipt(request: CommuneRequest, token: str) -> FileResponse:
    """The receipt of that payment (and of no other)."""

    payment = by_reference.payment_of(token)
    entry = payment.entry if payment is not None else None
    if entry is None:
        raise Http404(UNKNOWN_LINK)
    return FileResponse(io.BytesIO(receipt_pdf(entry)), as_attachment=True,
                        filename=f"quittance-{entry.receipt}.pdf",
                        content_type="application/pdf")
