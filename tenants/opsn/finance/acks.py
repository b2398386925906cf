"""What the public accountant answers a hand-over (the PES V2 acknowledgement, « PES_ACK »),
and cancelling a hand-over before it is accepted.

An acknowledgement accepts or rejects the bordereau's titres (pieces), each rejection with
its reason. A rejected titre gives its invoice back to the régie: « impayée » again,
payable at the counter and online, and it may be handed over anew. An accepted titre stays
with the accountant, and its hand-over can no longer be cancelled. The same file imported
again changes nothing; a file that is not an acknowledgement of this hand-over (another
bordereau, an unknown titre, a titre decided the other way before) changes nothing and
says why, in French.

The elements read (docs/decisions/0018-pes-v2.md says which are verified and which are not):

    PES_ACK (any namespace)
      EnTetePES: IdColl (the budget's SIRET), CodCol, CodBud (checked when present)
      ACQUIT / ElementACQUIT (one or more):
        NomFic        the name of the PES_Aller file acknowledged (checked when present)
        Exer, IdBord  the bordereau (checked when present; one of NomFic / IdBord required)
        EtatAck       1 = accepté, 2 = rejeté (the whole bordereau when no piece follows)
        LibelleAnoAck, NumAnoAck  the reason of a rejection
        DetailPiece (zero or more): IdPce, EtatAck, LibelleAnoAck, NumAnoAck
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone
from lxml import etree

from opsn.agents.models import Role
from opsn.agents.selectors import roles_of
from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.errors import FinanceError, FinanceNotAllowed
from opsn.finance.models import (
    HandedOverInvoice,
    HandoverState,
    PesAck,
    ReleasedTitre,
    ReleaseReason,
    UnpaidHandover,
)
from opsn.kernel.actors import Actor
from opsn.kernel.inputs import file_problem
from opsn.kernel.tenancy import atomic
from opsn.regies.models import Regie
from opsn.regies.permissions import require_keeper

MAX_BYTES = 20 * 1024 * 1024  # an acknowledgement of 10,000 titres is well under 5 MB
ACCEPTED, REJECTED = "1", "2"


@dataclass
class Decision:
    accepted: bool
    reason: str = ""


@dataclass
class Ack:
    """What an acknowledgement file says, read and checked for form only."""

    file_names: set[str] = field(default_factory=set)
    bordereaux: set[tuple[str, str]] = field(default_factory=set)  # (Exer, IdBord)
    siret: str = ""
    collectivity_code: str = ""
    budget_code: str = ""
    whole: Decision | None = None  # the bordereau's decision when no piece is detailed
    pieces: dict[int, Decision] = field(default_factory=dict)


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _v(element, name: str) -> str:
    for child in element:
        if _local(child) == name:
            value = child.get("V")
            return (value if value is not None else (child.text or "")).strip()
    return ""


def _state(value: str, where: str) -> bool:
    if value not in (ACCEPTED, REJECTED):
        raise FinanceError(f"{where} : l'état « {value[:20]} » n'est ni 1 (accepté) ni 2 "
                           "(rejeté).", field="file")
    return value == ACCEPTED


def _reason(element) -> str:
    label, number = _v(element, "LibelleAnoAck"), _v(element, "NumAnoAck")
    return " – ".join(p for p in (number, label) if p)[:500]


def parse_ack(data: bytes) -> Ack:
    """The acknowledgement's decisions, or a French refusal: not XML, not a PES_ACK, too
    big, a NUL byte, an element missing."""
    if not data:
        raise FinanceError("Le fichier est vide.", field="file")
    if len(data) > MAX_BYTES:
        raise FinanceError(f"Le fichier fait {len(data) // (1024 * 1024)} Mo : un accusé de "
                           f"réception PES en fait bien moins ({MAX_BYTES // (1024 * 1024)} "
                           "Mo au plus).", field="file")
    if (found := file_problem(data)) is not None:
        line, said = found
        raise FinanceError(f"Ligne {line} : {said}", field="file")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        root = etree.parse(io.BytesIO(data), parser).getroot()
    except etree.XMLSyntaxError as exc:
        detail = (exc.msg or str(exc)).split(", line ")[0]
        raise FinanceError("Ce fichier n'est pas un accusé de réception PES lisible : le XML "
                           f"est mal formé (détail : {detail}).", field="file") from None
    if _local(root) != "PES_ACK":
        raise FinanceError(f"Ce fichier n'est pas un accusé de réception PES : sa racine est "
                           f"« {_local(root)[:40]} », pas « PES_ACK ».", field="file")
    ack = Ack()
    for child in root:
        if _local(child) == "EnTetePES":
            ack.siret = _v(child, "IdColl")
            ack.collectivity_code = _v(child, "CodCol")
            ack.budget_code = _v(child, "CodBud")
    elements = [e for a in root if _local(a) == "ACQUIT" for e in a
                if _local(e) == "ElementACQUIT"]
    if not elements:
        raise FinanceError("L'accusé de réception ne contient aucun élément ACQUIT / "
                           "ElementACQUIT : rien à lire.", field="file")
    for element in elements:
        if name := _v(element, "NomFic"):
            ack.file_names.add(name)
        if bord := _v(element, "IdBord"):
            ack.bordereaux.add((_v(element, "Exer"), bord))
        details = [d for d in element if _local(d) == "DetailPiece"]
        for detail in details:
            raw = _v(detail, "IdPce")
            if not raw.isdigit() or len(raw) > 9:
                raise FinanceError(f"Un titre de l'accusé a pour numéro « {raw[:20]} » : un "
                                   "nombre est attendu (IdPce).", field="file")
            piece = int(raw)
            decision = Decision(_state(_v(detail, "EtatAck"), f"Titre {piece}"),
                                _reason(detail))
            if piece in ack.pieces and ack.pieces[piece].accepted != decision.accepted:
                raise FinanceError(f"L'accusé dit du titre {piece} qu'il est à la fois accepté "
                                   "et rejeté.", field="file")
            ack.pieces[piece] = decision
        if not details:
            ack.whole = Decision(_state(_v(element, "EtatAck"), "Bordereau"), _reason(element))
    if not ack.file_names and not ack.bordereaux:
        raise FinanceError("L'accusé ne dit pas quel fichier il acquitte (NomFic) ni quel "
                           "bordereau (Exer, IdBord).", field="file")
    return ack


def _check_refers_to(ack: Ack, handover: UnpaidHandover) -> None:
    theirs = f"bordereau {handover.number}/{handover.year}, fichier {handover.file_name}"
    if ack.file_names and ack.file_names != {handover.file_name}:
        names = ", ".join(sorted(ack.file_names))[:200]
        raise FinanceError(f"Cet accusé acquitte le fichier {names}, pas celui de ce "
                           f"{theirs} : rien n'est changé.", field="file")
    mine = {(str(handover.year), str(handover.number))}
    if ack.bordereaux and {(e or str(handover.year), b.lstrip("0") or "0")
                           for e, b in ack.bordereaux} != mine:
        said = ", ".join(f"{b}/{e}" for e, b in sorted(ack.bordereaux))[:200]
        raise FinanceError(f"Cet accusé porte sur le bordereau {said}, pas sur ce {theirs} : "
                           "rien n'est changé.", field="file")
    budget = handover.budget
    for got, want, what in ((ack.siret, budget.siret, "SIRET (IdColl)"),
                            (ack.collectivity_code, budget.collectivity_code,
                             "code collectivité (CodCol)"),
                            (ack.budget_code, budget.budget_code, "code budget (CodBud)")):
        if got and got != want:
            raise FinanceError(f"Cet accusé est celui d'un autre budget : {what} {got[:20]} au "
                               f"lieu de {want}. Rien n'est changé.", field="file")


def _may_act(handover: UnpaidHandover, actor: Actor, what: str) -> None:
    if actor.kind != "system" and not roles_of(actor.account) & {Role.ADMINISTRATOR,
                                                                   Role.FINANCE}:
        require_keeper(handover.regie, actor, timezone.localdate(),
                       f"{what} (ou l'administrateur, le service financier)")


def _settle_state(handover: UnpaidHandover) -> None:
    pending = handover.items.filter(accepted_at__isnull=True).count()
    accepted = handover.items.filter(accepted_at__isnull=False).count()
    rejected = handover.released.filter(why=ReleaseReason.REJECTED).count()
    if pending:
        state = HandoverState.SENT
    elif accepted and rejected:
        state = HandoverState.PARTLY
    elif accepted:
        state = HandoverState.ACCEPTED
    else:
        state = HandoverState.REJECTED
    if state != handover.state:
        handover.state = state
        handover.save(update_fields=["state"])


@dataclass
class AckResult:
    ack: PesAck
    changed: bool
    accepted: list[int]
    rejected: list[tuple[int, str, str]]  # piece, invoice number, reason


@atomic
def ack_import(*, handover: UnpaidHandover, data: bytes, file_name: str,
               actor: Actor) -> AckResult:
    """Import the acknowledgement ``data`` of ``handover``: all of it or nothing."""
    _may_act(handover, actor, "importer l'accusé de réception du comptable public")
    ack = parse_ack(data)
    handover = (UnpaidHandover.objects.select_for_update().select_related("budget", "regie")
                .get(pk=handover.pk))
    if handover.state == HandoverState.CANCELLED:
        raise FinanceError(f"Le {handover} est annulé : aucun accusé ne s'y rapporte plus.",
                           field="file")
    _check_refers_to(ack, handover)
    sha = hashlib.sha256(data).hexdigest()
    if (same := PesAck.objects.filter(handover=handover, sha256=sha).first()) is not None:
        return AckResult(same, False, [], [])
    items = {i.piece: i for i in handover.items.select_related("invoice")}
    released = {r.piece: r for r in handover.released.all()}
    known = set(items) | set(released)
    unknown = sorted(set(ack.pieces) - known)
    if unknown:
        shown = ", ".join(str(p) for p in unknown[:10])
        raise FinanceError(f"L'accusé parle de titre(s) que le {handover} n'a pas : {shown} "
                           f"(il en a {handover.count}). Rien n'est changé.", field="file")
    decisions = dict(ack.pieces)
    if ack.whole is not None:
        for piece in known:
            decisions.setdefault(piece, ack.whole)
    to_accept, to_reject = [], []
    for piece, decision in sorted(decisions.items()):
        if piece in released:
            if decision.accepted:
                said = released[piece].get_why_display()
                raise FinanceError(f"L'accusé accepte le titre {piece}, déjà {said} : rien "
                                   "n'est changé. Voyez le comptable public.", field="file")
            continue  # rejected again: nothing to do
        item = items[piece]
        if decision.accepted:
            if item.accepted_at is None:
                to_accept.append(item)
        elif item.accepted_at is not None:
            raise FinanceError(f"L'accusé rejette le titre {piece} (facture "
                               f"{item.invoice.number}), qu'un accusé précédent avait accepté :"
                               " rien n'est changé. Voyez le comptable public.", field="file")
        else:
            to_reject.append((item, decision.reason))
    now = timezone.now()
    stored = PesAck.objects.create(handover=handover, file_name=(file_name or "PES_ACK.xml")[:200],
                                   file=data, sha256=sha, accepted=len(to_accept),
                                   rejected=len(to_reject), received_by=actor.account[:254])
    HandedOverInvoice.objects.filter(pk__in=[i.pk for i in to_accept]).update(accepted_at=now)
    _release(handover, [(i, r) for i, r in to_reject], ReleaseReason.REJECTED, actor,
             ack=stored)
    _settle_state(handover)
    rejections = "; ".join(f"titre {i.piece} (facture {i.invoice.number}) : "
                           f"{r or 'sans motif'}" for i, r in to_reject)
    record(actor, events.PesAckImported(target=f"handover:{handover.pk}", data={
        "file_name": stored.file_name, "number": handover.number, "year": handover.year,
        "accepted": len(to_accept), "rejected": len(to_reject),
        "rejections": f"— {rejections[:1500]} " if rejections else "", "sha256": sha}))
    return AckResult(stored, True, [i.piece for i in to_accept],
                     [(i.piece, i.invoice.number, r) for i, r in to_reject])


def _release(handover: UnpaidHandover, items: list[tuple[HandedOverInvoice, str]],
             why: str, actor: Actor, ack: PesAck | None = None) -> None:
    """The titres no longer stand: their invoices are the régie's again. The régie's row
    gets a new version (as a hand-over does) so a counter payment checked before this goes
    the long way and sees the invoice payable."""
    if not items:
        return
    Regie.objects.filter(pk=handover.regie_id).update(number=F("number"))
    ReleasedTitre.objects.bulk_create(
        ReleasedTitre(handover=handover, invoice_id=item.invoice_id, piece=item.piece,
                      amount=item.amount, why=why, reason=reason[:500], ack=ack,
                      released_by=actor.account[:254])
        for item, reason in items)
    HandedOverInvoice.objects.filter(pk__in=[item.pk for item, _ in items]).delete()


@atomic
def handover_cancel(*, handover: UnpaidHandover, actor: Actor, reason: str) -> UnpaidHandover:
    """Cancel a hand-over the accountant has not accepted any titre of: its invoices are
    the régie's again. Its number stays taken (bordereaux have no gaps)."""
    _may_act(handover, actor, "annuler une transmission au comptable public")
    reason = " ".join((reason or "").split())
    if not reason:
        raise FinanceError("Donnez le motif de l'annulation.", field="reason")
    if len(reason) > 300 or "\x00" in reason:
        raise FinanceError("Le motif a 300 caractères au plus (sans caractère nul).",
                           field="reason")
    handover = (UnpaidHandover.objects.select_for_update().select_related("regie")
                .get(pk=handover.pk))
    if handover.state == HandoverState.CANCELLED:
        raise FinanceError(f"Le {handover} est déjà annulé.", field="handover")
    accepted = handover.items.filter(accepted_at__isnull=False).count()
    if accepted:
        raise FinanceNotAllowed(f"Le {handover} ne peut plus être annulé : le comptable public "
                                f"en a accepté {accepted} titre(s). Demandez-lui une "
                                "réduction ou une annulation de titre.")
    items = list(handover.items.all())
    _release(handover, [(i, reason) for i in items], ReleaseReason.CANCELLED, actor)
    handover.state = HandoverState.CANCELLED
    handover.cancelled_at = timezone.now()
    handover.cancelled_by = actor.account[:254]
    handover.cancel_reason = reason
    handover.save(update_fields=["state", "cancelled_at", "cancelled_by", "cancel_reason"])
    record(actor, events.HandoverCancelled(target=f"handover:{handover.pk}", data={
        "number": handover.number, "year": handover.year, "count": len(items),
        "regie": handover.regie.number, "reason": reason}))
    return handover


def handover_acknowledged(data: bytes) -> UnpaidHandover:
    """The hand-over an acknowledgement file is about (by the file name it acknowledges,
    else by its bordereau and budget codes), for the command line."""
    ack = parse_ack(data)
    found = UnpaidHandover.objects.filter(file_name__in=ack.file_names) if ack.file_names \
        else UnpaidHandover.objects.none()
    if not found and ack.bordereaux:
        for year, number in ack.bordereaux:
            if year.isdigit() and number.isdigit() and len(year) == 4 and len(number) < 10:
                candidates = UnpaidHandover.objects.filter(year=int(year), number=int(number))
                if ack.collectivity_code:
                    candidates = candidates.filter(
                        budget__collectivity_code=ack.collectivity_code)
                if ack.budget_code:
                    candidates = candidates.filter(budget__budget_code=ack.budget_code)
                found = found | candidates if found else candidates
    handovers = list(found[:2])
    if not handovers:
        said = ", ".join(sorted(ack.file_names)) or ", ".join(
            f"{b}/{e}" for e, b in sorted(ack.bordereaux))
        raise FinanceError(f"Aucun bordereau de cette commune ne correspond à l'accusé "
                           f"({said[:200]}).", field="file")
    if len(handovers) > 1:
        raise FinanceError("L'accusé correspond à plusieurs bordereaux : importez-le depuis la "
                           "page du bordereau.", field="file")
    return handovers[0]
