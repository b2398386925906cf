"""Every ``opsn`` command refuses as the pages and the APIs do: it derives
``opsn.kernel.commands.DomainCommand`` (the domain's French message and an exit status
instead of a traceback; arguments held to what any input may hold)."""

from __future__ import annotations

import importlib
from pathlib import Path

from opsn.kernel.commands import DomainCommand

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_of_ours_is_a_domain_command():
    files = sorted([*ROOT.glob("platform/opsn/*/management/commands/*.py"),
                    *ROOT.glob("tenants/opsn/*/management/commands/*.py")])
    commands = {path.stem: importlib.import_module(
        f"opsn.{path.parents[2].name}.management.commands.{path.stem}").Command
        for path in files if path.stem != "__init__"}
    assert len(commands) > 20
    assert [name for name, command in commands.items()
            if not issubclass(command, DomainCommand)] == []
