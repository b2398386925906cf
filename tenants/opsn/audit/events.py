"""Typed events: one small class per kind of action, that knows its code and how to say
what happened in French. Services build one and hand it to ``audit.services.record``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    code: ClassVar[str]
    template: ClassVar[str]
    target: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return self.template.format(**self.data)

    def payload(self) -> dict[str, Any]:
        return asdict(self)["data"]


def event(code: str, template: str) -> type[Event]:
    """Declare an event type: ``event("payment.recorded", "Paiement {receipt} …")``."""
    return type(code.replace(".", "_").title().replace("_", ""), (Event,),
                {"code": code, "template": template})


RegieCreated = event("regie.created", "Création de la régie {number} {name}")
RegieAmended = event("regie.amended", "Modification de l'acte constitutif de la régie "
                                      "{number} : {changes}")
ProductSaved = event("product.saved", "Produit {code} « {name} » à {unit_price} € "
                                      "(régie {regie})")
AssignmentGranted = event("assignment.granted", "{account} nommé {role} de la régie {regie} "
                                                "à partir du {starts_on}")
AssignmentEnded = event("assignment.ended", "Fin de la fonction de {role} de {account} "
                                            "(régie {regie}) le {ends_on}")
HandoverRecorded = event("handover.recorded", "Remise de service de la régie {regie} le {on} :"
                                              " {outgoing} → {incoming}")
StandInRecorded = event("standin.recorded", "{account} remplace le titulaire de la régie "
                                            "{regie} du {starts_on} au {ends_on}")
PayerSaved = event("payer.saved", "Payeur {name} ({link_code})")
PayerDataExported = event("payer.data_exported", "Export des données personnelles du payeur "
                                                 "{name} ({link_code}), régie {regie}")
# Erasure and retention (docs/public-service.md): never the values erased, only which fields.
PayerErased = event("payer.erased", "Effacement des coordonnées du payeur {link_code} (régie "
                                    "{regie}) : {fields} ; motif : {reason}")
PayerPseudonymised = event("payer.pseudonymised", "Pseudonymisation du payeur {link_code} "
                                                  "(régie {regie}) : aucune facture ni aucun "
                                                  "paiement depuis le {last_activity}, "
                                                  "conservation {years} ans{also}")
InvoiceIssued = event("invoice.issued", "Facture {number} de {total} € à {payer}")
InvoiceCancelled = event("invoice.cancelled", "Annulation de la facture {number} : {reason}")
PaymentRecorded = event("payment.recorded", "Quittance {receipt} : {amount} € ({mode}) de "
                                            "{payer} à la régie {regie}")
# The same action, for money that arrived after the counter's closing and is dated to the
# next open day (its code is the same: it is a payment recorded).
PaymentRecordedForLater = event("payment.recorded", "Quittance {receipt} : {amount} € ({mode}) "
                                                    "de {payer} à la régie {regie}, datée du "
                                                    "{day} (reçue après l'arrêté de caisse)")
PaymentReversed = event("payment.reversed", "Annulation de la quittance {receipt} par la "
                                            "quittance {reversal} : {reason}")
CreditApplied = event("credit.applied", "Avoir de {payer} : {amount} € affectés à la facture "
                                        "{invoice}")
DayClosed = event("day.closed", "Arrêté de caisse de la régie {regie} du {day} : attendu "
                                "{expected} €, compté {counted} €")
DepositMade = event("deposit.made", "Versement {slip} au comptable de la régie {regie} : "
                                    "{total} €")
RegiesMerged = event("regies.merged", "Fusion de la régie {absorbed} dans la régie {surviving}")
FileImported = event("file.imported", "Import {kind} « {file_name} » dans la régie {regie} : "
                                      "{outcome}")
QueuedPaymentResolved = event("queue.resolved", "Paiement importé ligne {line} ({amount} €) : "
                                                "{resolution}")
CredentialIssued = event("credential.issued", "Accès à l'API délivré au logiciel {name}")
CredentialRevoked = event("credential.revoked", "Accès à l'API du logiciel {name} révoqué")
ProfileChanged = event("profile.changed", "Identité de la commune modifiée : {changes}")
ReceiptEmailed = event("receipt.emailed", "Quittance {receipt} envoyée par courriel à {to}")
InvoiceEmailed = event("invoice.emailed", "Facture {number} envoyée par courriel à {to}")
InvoiceEmailFailed = event("invoice.email_failed", "Facture {number} : courriel à {to} non "
                                                   "envoyé ({error})")
InvoicesPrinted = event("invoices.printed", "Impression des factures de la régie {regie} : "
                                            "{what}")
# A periodic warning e-mailed to whoever keeps the régie: recorded once per régie, warning
# and day, which is what keeps the daily job from sending it twice.
WarningSent = event("warning.sent", "Alerte « {label} » de la régie {regie} envoyée à {to} "
                                    "le {day}")
PayfipConfigured = event("payfip.configured", "Paiement en ligne (PayFiP) {state} pour la "
                                              "régie {regie} : numéro client {numcli}, "
                                              "environnement {environment}")
OnlinePaymentAnomaly = event("online_payment.anomaly", "Paiement en ligne {idop} (facture "
                                                       "{invoice}) non enregistré : {note}")
OnlinePaymentNotRecorded = event("online_payment.not_recorded",
                                 "Paiement en ligne {idop} (facture {invoice}, {amount} €) payé "
                                 "mais pas encore enregistré : {problem}")
OnlinePaymentRecordedLate = event("online_payment.recorded_late",
                                  "Paiement en ligne {idop} (facture {invoice}) enregistré, "
                                  "quittance {receipt}, après l'incident du {since} : {problem}")
OnlinePaymentResolved = event("online_payment.resolved",
                              "Anomalie du paiement en ligne {idop} (facture {invoice}) : "
                              "{resolution}")
OnlinePaymentSettled = event("online_payment.settled",
                             "Paiement en ligne {idop} reçu pour la facture {invoice} transmise "
                             "au comptable public : {resolution}")
PayfipNotificationRefused = event("payfip.notification_refused",
                                  "Notification PayFiP refusée : opération {idop} inconnue de "
                                  "la commune (envoyée depuis {ip})")
PayfipNotificationReplayed = event("payfip.notification_replayed",
                                   "Notification PayFiP répétée pour le paiement en ligne {idop} "
                                   "(facture {invoice}) : rien n'est enregistré deux fois")
BudgetSaved = event("budget.saved", "Budget « {name} » ({kind}) enregistré : {changes}")
ImputationSaved = event("imputation.saved", "Imputation par défaut de la régie {regie} : "
                                            "budget {budget}, nature {nature}, fonction "
                                            "{fonction}")
PlanLoaded = event("m57.loaded", "Nomenclature M57 chargée : {summary}")
UnpaidHandedOver = event("unpaid.handed_over", "Bordereau {number}/{year} ({budget}) : {count} "
                                               "facture(s) impayée(s) de la régie {regie} "
                                               "échues avant le {due_before} transmises au "
                                               "comptable public, {total} € ; fichier "
                                               "{file_name} (SHA-256 {sha256})")
PesAckImported = event("pes.ack_imported", "Accusé de réception {file_name} du bordereau "
                                           "{number}/{year} : {accepted} titre(s) accepté(s), "
                                           "{rejected} rejeté(s) {rejections}(SHA-256 {sha256})")
HandoverCancelled = event("unpaid.handover_cancelled", "Bordereau {number}/{year} annulé "
                                                       "avant son acceptation : {count} "
                                                       "facture(s) reviennent à la régie "
                                                       "{regie} ; motif : {reason}")
AgentRoleGranted = event("agent.role_granted", "{account} reçoit le rôle « {role} »")
AgentRoleRevoked = event("agent.role_revoked", "{account} perd le rôle « {role} »")
# Reminders of unpaid invoices (opsn.finance.reminders)
ReminderScheduleSaved = event("reminders.schedule_saved", "Relances de la régie {regie} : "
                                                          "{schedule}")
InvoiceReminded = event("invoice.reminded", "Relance n° {level} de la facture {number} "
                                            "({owed} €) : {how}")
InvoiceReminderFailed = event("invoice.reminder_failed", "Relance n° {level} de la facture "
                                                         "{number} non envoyée à {to} : "
                                                         "{error}")
ReminderLettersMade = event("reminders.letters_made", "Régie {regie} : {count} courrier(s) de "
                                                      "relance à imprimer")
ReminderLettersPrinted = event("reminders.letters_printed", "Régie {regie} : courriers de "
                                                            "relance du {made_on} ({count}) "
                                                            "imprimés")
InvoiceContested = event("invoice.contested", "Facture {number} contestée : {reason}")
InvoiceContestLifted = event("invoice.contest_lifted", "Fin de la contestation de la facture "
                                                       "{number} : {reason}")
# The commune's requests to the operator (billing.services.subscription_ask/_decide).
SubscriptionAsked = event("subscription.asked", "Demande à l'opérateur : {what}")
SubscriptionDecided = event("subscription.decided", "Réponse de l'opérateur ({status}) : "
                                                    "{what}{message}")
InvitationResent = event("agent.invitation_resent", "Invitation renvoyée à {account} "
                                                    "({role})")
InvitationCancelled = event("agent.invitation_cancelled", "Invitation de {account} annulée "
                                                          "({role})")
