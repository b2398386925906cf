"""The command line's side of ``DomainError``: every ``opsn`` command that changes
something refuses as the pages and the APIs do — the domain's French message — with an
exit status that scripts can test."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from opsn.kernel.errors import DomainError
from opsn.kernel.inputs import check, check_number

# 2 invalid input, 3 not found, 4 refused or conflict, 5 failed on our side, 6 try later.
EXIT_STATUS = {400: 2, 403: 4, 404: 3, 409: 4, 500: 5, 502: 5, 503: 6}


def command_error(exc: DomainError) -> CommandError:
    return CommandError(str(exc), returncode=EXIT_STATUS.get(exc.http_status, 2))


class DomainCommand(BaseCommand):
    """A command whose domain refusals become ``command_error``s, and whose arguments are
    held to what any input may hold (``opsn.kernel.inputs``: no NUL, no over-long value,
    no number beyond what a database column takes) before it runs."""

    def execute(self, *args, **options):
        try:
            check_arguments({**dict(enumerate(args)), **options})
            return super().execute(*args, **options)
        except DomainError as exc:
            raise command_error(exc) from exc


def check_arguments(arguments: dict) -> None:
    for name, value in arguments.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            label = f"L'argument « {name} »" if isinstance(name, str) else "Un argument"
            if isinstance(item, str):
                check(item, field=str(name), label=label)
            elif isinstance(item, int) and not isinstance(item, bool):
                check_number(item, field=str(name), label=label)
