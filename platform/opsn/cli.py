"""The `opsn` command: Django's management commands with the platform's settings.

    opsn onboard 69259               opsn onboard_batch --epci 243400017
    opsn communes --status suspended opsn suspend 69259 / opsn resume 69259
    opsn offboard 69259              opsn restore_commune FILE
    opsn load_referentiel PATH --population-year 2023
    opsn demo                        opsn migrate_schemas
"""

import os
import sys

from django.core.management import execute_from_command_line


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsn.settings")

    execute_from_command_line(["opsn", *sys.argv[1:]])


if __name__ == "__main__":
    main()
