"""``online_payments.payfip.PayfipService`` against the local provider (its table in the
public schema), with PayFiP's answers: the operation id, P5 while the payer has not
chosen, P1 for an unknown operation."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.conf import settings

from opsn.online_payments.payfip import Detail, NotYetKnown, Request, UnknownOperation
from opsn.payfip_local.models import Operation


class LocalPayfip:
    def create(self, request: Request) -> str:
        operation = Operation.objects.create(
            idop=secrets.token_hex(16), numcli=request.numcli, exer=str(request.exer),
            refdet=request.refdet, objet=request.objet, montant=request.amount_cents,
            mel=request.email, urlnotif=request.notify_url, urlredirect=request.return_url,
            saisie=request.environment)
        return operation.idop

    def payment_url(self, idop: str) -> str:
        return (f"{settings.OPSN_PAYFIP_LOCAL_URL.rstrip('/')}/tpa/paiementws.web?"
                f"{urlencode({'idop': idop})}")

    def detail(self, idop: str) -> Detail:
        operation = Operation.objects.filter(idop=idop).first()
        if operation is None:
            raise UnknownOperation("P1", "IdOp incorrect.")
        if not operation.resultrans:
            raise NotYetKnown("P5", "Résultat de la transaction non connu.")
        dattrans = operation.decided_at.strftime("%d%m%Y") if operation.decided_at else ""
        heurtrans = operation.decided_at.strftime("%H%M") if operation.decided_at else ""
        raw = {"idOp": idop, "resultrans": operation.resultrans,
               "montant": str(operation.montant), "numcli": operation.numcli,
               "refdet": operation.refdet, "exer": operation.exer, "mel": operation.mel,
               "objet": operation.objet, "numauto": operation.numauto,
               "dattrans": dattrans, "heurtrans": heurtrans, "saisie": operation.saisie}
        return Detail(idop=idop, resultrans=operation.resultrans,
                      amount_cents=operation.montant, numcli=operation.numcli,
                      refdet=operation.refdet, exer=operation.exer,
                      numauto=operation.numauto, dattrans=dattrans, heurtrans=heurtrans,
                      saisie=operation.saisie, raw=raw)
