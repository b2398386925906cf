"""Shared by the registry's commands: a RegistryError becomes a clear message and an exit
status that scripts can test (2 invalid input, 3 not found, 4 conflict, 5 export failed)."""

from django.core.management.base import BaseCommand, CommandError

from opsn.communes.errors import RegistryError

EXIT_STATUS = {400: 2, 404: 3, 409: 4, 500: 5}


def as_command_error(exc: RegistryError) -> CommandError:
    return CommandError(exc.message, returncode=EXIT_STATUS.get(exc.http_status, 1))


class RegistryCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except RegistryError as exc:
            raise as_command_error(exc) from exc
