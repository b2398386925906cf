from __future__ import annotations

from django.db import models


class Operation(models.Model):
    """An operation as PayFiP keeps it: what was asked, and the result once the payer
    chose (empty until then)."""

    idop = models.CharField(max_length=64, unique=True)
    numcli = models.CharField(max_length=6)
    exer = models.CharField(max_length=4)
    refdet = models.CharField(max_length=30)
    objet = models.CharField(max_length=100, blank=True)
    montant = models.PositiveIntegerField()  # cents
    mel = models.CharField(max_length=254)
    urlnotif = models.URLField(max_length=500)
    urlredirect = models.URLField(max_length=500)
    saisie = models.CharField(max_length=1)
    created_at = models.DateTimeField(auto_now_add=True)
    resultrans = models.CharField(max_length=1, blank=True)
    numauto = models.CharField(max_length=16, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.idop} {self.montant} {self.resultrans or '-'}"
