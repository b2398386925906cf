"""``opsn unpaid_handover``: the issue's and the finance guide's name for the hand-over
(``pes_handover`` is the same command, named after the file it writes)."""

from opsn.finance.management.commands.pes_handover import Command as PesHandover


class Command(PesHandover):
    actor_name = "unpaid_handover"
