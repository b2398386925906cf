"""What both HTTP APIs say, in French, when a request is not what they document: a body
that is not JSON, a body that is not the object an endpoint takes (``true`` where a
``{"reason": …}`` is documented), a field missing, unknown or of the wrong type. The APIs
are independent of each other (docs/architecture.md, "Layers"); the words they share
live here, with pydantic's error types as keys."""

from __future__ import annotations

MALFORMED = "Le corps de la requête n'est pas un document JSON valide."
NOT_AN_OBJECT = ("Le corps de la requête doit être un objet JSON ({…}), comme le décrit la "
                 "documentation de l'API.")

# What pydantic says, in French, for the mistakes a client makes.
PROBLEMS = {
    "missing": "manque", "extra_forbidden": "champ inconnu", "string_type": "doit être un texte",
    "list_type": "doit être une liste", "dict_type": "doit être un objet",
    "model_type": "doit être un objet", "model_attributes_type": "doit être un objet",
    "date_from_datetime_parsing": "doit être une date AAAA-MM-JJ",
    "date_parsing": "doit être une date AAAA-MM-JJ", "date_type": "doit être une date AAAA-MM-JJ",
    "string_too_long": "trop long", "string_too_short": "ne peut pas être vide",
    "too_short": "ne peut pas être vide", "too_long": "trop d'éléments (5 000 au plus)",
    "int_type": "doit être un nombre entier", "int_parsing": "doit être un nombre entier",
    "bool_type": "doit être vrai ou faux", "bool_parsing": "doit être vrai ou faux",
    "uuid_type": "doit être un identifiant (UUID)",
    "uuid_parsing": "doit être un identifiant (UUID)",
}
OBJECT_TYPES = ("model_type", "model_attributes_type", "dict_type")


def body_not_an_object(error: dict) -> bool:
    """The body as a whole is not the object the endpoint documents (pydantic's error on
    the body parameter itself, not on one of its fields)."""
    loc = [p for p in error.get("loc", ()) if not (isinstance(p, str) and "[" in p)]
    return (error.get("type") in OBJECT_TYPES or (error.get("type") == "missing"
                                                  and len(loc) == 2)) and (
        len(loc) == 2 and loc[0] == "body")


def problem(error: dict) -> str:
    return PROBLEMS.get(error.get("type", ""), "valeur incorrecte")
