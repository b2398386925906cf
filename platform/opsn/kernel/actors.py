"""Who does something: the value every service that changes a commune's data receives.

Views, the API, imports and jobs each build one (``accounts.auth.actor_of`` for a signed-in
person); services record it in the ledger and the audit log. It is a plain value: where
the person's identity comes from (local account, OpenID Connect) is not its business.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    account: str  # the account's identifier (a person) or ``service:<name>`` (a credential)
    name: str  # shown on receipts and in the audit log
    ip: str = ""
    kind: str = "agent"  # agent | service | system

    def __str__(self) -> str:
        return self.name or self.account

    @classmethod
    def system(cls, what: str) -> Actor:
        """The platform itself (a periodic job, a command run by the operator)."""
        return cls(account=f"system:{what}", name=what, kind="system")
