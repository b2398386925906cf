"""The provisioning interface (accounts.identity) over Keycloak's admin REST API, with
python-keycloak. One realm for the operator; per commune:

- an **organization** (alias ``c-<insee>``, attribute ``insee_code``): who belongs to the
  commune, and the invitation e-mail of its first administrator (Keycloak 26's
  ``members/invite-existing-user``, called through the connection's raw request helper:
  python-keycloak has no method for it);
- a **group** ``/communes/<insee>`` with one sub-group per role (``administrator``,
  ``regisseur``…): the ``groups`` mapper writes their full paths into the tokens, which is
  what the platform maps onto the commune's roles (accounts.oidc).

The admin token is fetched once per process (client credentials of the
``opsn-provisioning`` service account), kept by python-keycloak's connection, refreshed
when it expires and once more on a 401. Keycloak's answers: 409 (exists) is success,
404 on removal is success, anything else raises ``ProvisioningError`` (the registry's
transaction is then rolled back).
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote

from django.conf import settings
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError

from opsn.accounts.identity import ProvisioningError

logger = logging.getLogger("opsn.accounts")
ROLES = ["administrator", "regisseur", "suppleant", "mandataire", "finance"]
REQUIRED_ACTIONS = ["VERIFY_EMAIL", "UPDATE_PASSWORD", "CONFIGURE_TOTP"]

_lock = threading.Lock()
_admin: dict[tuple, KeycloakAdmin] = {}


def admin() -> KeycloakAdmin:
    """One admin client (and so one token) per process and configuration."""
    key = (settings.OPSN_KEYCLOAK_SERVER_URL, settings.OPSN_KEYCLOAK_REALM,
           settings.OPSN_KEYCLOAK_ADMIN_CLIENT_ID)
    with _lock:
        if key not in _admin:
            connection = KeycloakOpenIDConnection(
                server_url=settings.OPSN_KEYCLOAK_SERVER_URL,
                realm_name=settings.OPSN_KEYCLOAK_REALM,
                client_id=settings.OPSN_KEYCLOAK_ADMIN_CLIENT_ID,
                client_secret_key=settings.OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET,
                timeout=settings.OPSN_OIDC_TIMEOUT)
            _admin[key] = KeycloakAdmin(connection=connection)
        return _admin[key]


def forget_admin() -> None:
    with _lock:
        _admin.clear()


def _status(error: KeycloakError) -> int:
    return int(getattr(error, "response_code", 0) or 0)


def _failed(what: str, commune, error: KeycloakError) -> ProvisioningError:
    logger.error("keycloak: %s for %s failed: %s %s", what, commune.insee_code,
                 _status(error), getattr(error, "error_message", error))
    return ProvisioningError(
        f"Le fournisseur d'identité (Keycloak) a refusé l'opération « {what} » pour "
        f"{commune.name} (code {_status(error) or 'réseau'}). Rien n'a été modifié sur la "
        "plateforme ; réessayez, l'opération reprendra là où elle s'est arrêtée.")


class KeycloakProvisioning:
    def alias(self, commune) -> str:
        return f"c-{commune.insee_code}"

    # --- organizations
    def _organization(self, commune, *, create: bool) -> dict | None:
        kc = admin()
        alias = self.alias(commune)
        for org in kc.get_organizations({"search": alias, "exact": "true"}):
            if org.get("alias") == alias:
                return org
        if not create:
            return None
        payload = {"name": f"{commune.name} ({commune.insee_code})", "alias": alias,
                   "enabled": True, "attributes": {"insee_code": [commune.insee_code]},
                   "domains": [{"name": commune.primary_domain, "verified": False}]}
        try:
            org_id = kc.create_organization(payload)
        except KeycloakError as error:
            if _status(error) != 409:
                raise
            return self._organization(commune, create=False)
        return {**payload, "id": org_id}

    # --- groups
    def _group(self, path: str, *, parent_id: str | None) -> str:
        kc = admin()
        try:
            return kc.get_group_by_path(path)["id"]
        except KeycloakError as error:
            if _status(error) != 404:
                raise
        name = path.rsplit("/", 1)[1]
        try:
            group_id = kc.create_group({"name": name}, parent=parent_id)
        except KeycloakError as error:
            if _status(error) != 409:
                raise
            group_id = None
        return group_id or kc.get_group_by_path(path)["id"]

    def commune_provisioned(self, commune, admin_email: str | None) -> None:
        kc = admin()
        try:
            org = self._organization(commune, create=True)
            assert org is not None
            root = self._group("/communes", parent_id=None)
            commune_id = self._group(f"/communes/{commune.insee_code}", parent_id=root)
            roles = {role: self._group(f"/communes/{commune.insee_code}/{role}",
                                       parent_id=commune_id) for role in ROLES}
            if not admin_email:
                return
            email = admin_email.strip().lower()
            user_id = kc.create_user({"username": email, "email": email, "enabled": True,
                                      "requiredActions": REQUIRED_ACTIONS}, exist_ok=True)
            kc.group_user_add(user_id, roles["administrator"])
            try:
                kc.organization_user_add(user_id, org["id"])
            except KeycloakError as error:
                if _status(error) != 409:  # already a member
                    raise
            self._invite(org["id"], user_id)
        except KeycloakError as error:
            raise _failed("accueil de la commune", commune, error) from error
        logger.info("keycloak: %s provisioned (organization %s)", commune.insee_code, org["id"])

    def agent_granted(self, commune, email: str, role: str) -> None:
        kc = admin()
        try:
            org = self._organization(commune, create=True)
            assert org is not None
            root = self._group("/communes", parent_id=None)
            commune_id = self._group(f"/communes/{commune.insee_code}", parent_id=root)
            group_id = self._group(f"/communes/{commune.insee_code}/{role}",
                                   parent_id=commune_id)
            email = email.strip().lower()
            user_id = kc.create_user({"username": email, "email": email, "enabled": True,
                                      "requiredActions": REQUIRED_ACTIONS}, exist_ok=True)
            kc.group_user_add(user_id, group_id)
            try:
                kc.organization_user_add(user_id, org["id"])
            except KeycloakError as error:
                if _status(error) != 409:  # already a member
                    raise
            self._invite(org["id"], user_id)
        except KeycloakError as error:
            raise _failed("invitation d'un agent", commune, error) from error

    def agent_revoked(self, commune, email: str, role: str) -> None:
        kc = admin()
        try:
            user_id = kc.get_user_id(email.strip().lower())
            if user_id is None:
                return
            group_id = kc.get_group_by_path(f"/communes/{commune.insee_code}/{role}")["id"]
            kc.group_user_remove(user_id, group_id)
        except KeycloakError as error:
            if _status(error) == 404:
                return
            raise _failed("retrait d'un rôle", commune, error) from error

    def account_active(self, email: str) -> bool:
        """Activated: the user exists, its e-mail is verified and no required action
        (password, second factor) is left."""
        kc = admin()
        try:
            found = kc.get_users({"username": email.strip().lower(), "exact": True})
        except KeycloakError as error:
            logger.error("keycloak: reading %s failed: %s", email, _status(error))
            return False
        user = next((u for u in found if u.get("username") == email.strip().lower()), None)
        return bool(user and user.get("emailVerified") and not user.get("requiredActions"))

    def invitation_resent(self, commune, email: str, role: str) -> None:
        kc = admin()
        try:
            org = self._organization(commune, create=False)
            user_id = kc.get_user_id(email.strip().lower())
            if org is None or user_id is None:
                raise ProvisioningError(f"{email} n'a pas de compte chez le fournisseur "
                                        "d'identité : invitez-le de nouveau.")
            self._invite(org["id"], user_id)
        except KeycloakError as error:
            raise _failed("nouvel envoi d'une invitation", commune, error) from error

    def _invite(self, org_id: str, user_id: str) -> None:
        """POST …/organizations/{id}/members/invite-existing-user (form: id=<user id>)."""
        kc = admin()
        connection: Any = kc.connection
        path = (f"admin/realms/{quote(settings.OPSN_KEYCLOAK_REALM)}/organizations/"
                f"{org_id}/members/invite-existing-user")
        connection.add_param_headers("Content-Type", "application/x-www-form-urlencoded")
        try:
            response = connection.raw_post(path, data={"id": user_id})
        finally:
            connection.add_param_headers("Content-Type", "application/json")
        if response.status_code not in (200, 201, 204):
            raise KeycloakError(error_message=response.text, response_code=response.status_code)

    def _set_enabled(self, commune, enabled: bool, what: str) -> None:
        kc = admin()
        try:
            org = self._organization(commune, create=False)
            if org is None:
                logger.warning("keycloak: no organization for %s", commune.insee_code)
                return
            kc.update_organization(org["id"], {**org, "enabled": enabled})
        except KeycloakError as error:
            raise _failed(what, commune, error) from error

    def commune_suspended(self, commune) -> None:
        self._set_enabled(commune, False, "suspension")

    def commune_resumed(self, commune) -> None:
        self._set_enabled(commune, True, "reprise")

    def commune_removed(self, commune) -> None:
        kc = admin()
        try:
            try:
                kc.delete_group(kc.get_group_by_path(f"/communes/{commune.insee_code}")["id"])
            except KeycloakError as error:
                if _status(error) != 404:
                    raise
            org = self._organization(commune, create=False)
            if org is not None:
                kc.delete_organization(org["id"])
        except KeycloakError as error:
            raise _failed("retrait de la commune", commune, error) from error
