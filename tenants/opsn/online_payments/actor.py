"""Who records what PayFiP collected, and sends its receipt: the platform, as the régie's
mandataire (appointed when the régie's PayFiP account is set up)."""

from opsn.kernel.actors import Actor

ACTOR = Actor(account="service:payfip", name="PayFiP (paiement en ligne)", kind="service")
