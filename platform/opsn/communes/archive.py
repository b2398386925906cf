"""Export a commune to one file, restore it, and offboard it (export first, then remove).

The file is a tar holding ``manifest.json`` (registry rows, checksums), ``schema.dump``
(``pg_dump --format=custom`` of the commune's schema) and ``media/`` (its uploaded files).
Nothing is removed unless the export was written and read back successfully.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import tarfile
import tempfile
from datetime import date
from pathlib import Path
from typing import cast

from django.conf import settings
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper
from django.utils import timezone

from opsn.communes import routing, schemas
from opsn.communes.domains import normalise_domain
from opsn.communes.errors import AlreadyOnboarded, DomainTaken, ExportFailed, InvalidState
from opsn.communes.identities import provisioning
from opsn.communes.models import Commune, CommuneArchive, CommuneModule, Domain, Module
from opsn.communes.services import check_database, database_for_new_commune
from opsn.kernel.database import libpq_environment, postgres_binary
from opsn.kernel.tenancy import connection_for

logger = logging.getLogger("opsn.archive")

FORMAT = "opsn-commune-archive/1"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _client(name: str, db_alias: str) -> str:
    server = cast(DatabaseWrapper, connections[db_alias])
    server.ensure_connection()
    return postgres_binary(name, server.pg_version)


def _run(args: list[str], db_alias: str) -> None:
    db = connections[db_alias].settings_dict
    result = subprocess.run(args, env=libpq_environment(db), capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise ExportFailed(f"{Path(args[0]).name} a échoué : {result.stderr.strip()[:500]}")


def restore_dump(dump: Path, database: str) -> None:
    """Load a ``pg_dump --format=custom`` archive into ``database``, all or nothing.

    The newest pg_restore (18, from the wheel) reads archives of every version and writes
    them as SQL; psql runs that SQL in one transaction on the target server, whatever its
    version (15 or later). The only setting an older server does not know
    (``transaction_timeout``, PostgreSQL 17+) is left out. This is what lets a commune move
    between servers of different versions (an archive written by pg_dump 18 cannot be read
    by pg_restore 15)."""
    script = dump.with_suffix(".sql")
    db = connections[database].settings_dict
    env = libpq_environment(db)
    with script.open("w") as out, subprocess.Popen(
            [postgres_binary("pg_restore"), "--no-owner", "--no-privileges", "--file=-",
             str(dump)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env) as reader:
        assert reader.stdout is not None
        for line in reader.stdout:
            if not line.startswith("SET transaction_timeout"):
                out.write(line)
        errors = reader.stderr.read() if reader.stderr else ""
    if reader.returncode != 0:
        raise ExportFailed(f"pg_restore a échoué : {errors.strip()[:500]}")
    _run([postgres_binary("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1",
          "--single-transaction", f"--dbname={db['NAME']}", f"--file={script}"], database)
    script.unlink()


def commune_export(*, commune: Commune, directory: Path | None = None) -> CommuneArchive:
    directory = Path(directory or settings.OPSN_EXPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    target = directory / f"{commune.insee_code}-{commune.slug}-{stamp}.opsn.tar"
    with tempfile.TemporaryDirectory(prefix="opsn-export-") as tmp:
        dump = Path(tmp) / "schema.dump"
        _run([_client("pg_dump", commune.database), "--format=custom", "--no-owner",
              "--no-privileges", f"--schema={commune.schema_name}", f"--file={dump}"],
             commune.database)
        # Read it back: an archive pg_restore cannot list is not an archive.
        _run([_client("pg_restore", commune.database), "--list", str(dump)], commune.database)
        manifest = {
            "format": FORMAT,
            "created_at": timezone.now().isoformat(),
            "commune": {
                "insee_code": commune.insee_code, "name": commune.name, "slug": commune.slug,
                "siren": commune.siren, "departement_code": commune.departement_code,
                "region_code": commune.region_code, "epci_siren": commune.epci_siren,
                "schema_name": commune.schema_name, "status": commune.status,
                "onboarded_at": commune.onboarded_at.isoformat(),
                **{name: getattr(commune, name) for name in Commune.BILLING_FIELDS},
            },
            "domains": [{"domain": d.domain, "is_primary": d.is_primary}
                        for d in commune.domains.all()],
            "modules": list(commune.communemodule_set.current().values_list("module_id",
                                                                             flat=True)),
            "subscriptions": [
                {"module": m, "starts_on": start.isoformat(),
                 "ends_on": end.isoformat() if end else None}
                for m, start, end in commune.communemodule_set.values_list(
                    "module_id", "starts_on", "ends_on")],
            "schema_dump_sha256": _sha256(dump),
        }
        media = Path(settings.MEDIA_ROOT) / commune.schema_name
        partial = target.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(dump, arcname="schema.dump")
            if media.is_dir():
                tar.add(media, arcname="media")
        partial.rename(target)
    read_manifest(target)  # verifies the checksum of what was written
    return CommuneArchive.objects.create(
        insee_code=commune.insee_code, name=commune.name, schema_name=commune.schema_name,
        path=str(target), sha256=_sha256(target), size_bytes=target.stat().st_size)


def read_manifest(path: Path | str) -> dict:
    path = Path(path)
    try:
        with tarfile.open(path, "r") as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            digest = hashlib.sha256()
            dump = tar.extractfile("schema.dump")
            for chunk in iter(lambda: dump.read(1 << 20), b""):  # type: ignore[union-attr]
                digest.update(chunk)
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise InvalidState(
            f"{path.name} n'est pas une archive de commune lisible ({exc}).") from exc
    if manifest.get("format") != FORMAT:
        raise InvalidState(f"{path.name} : format d'archive inconnu {manifest.get('format')!r}.")
    if digest.hexdigest() != manifest.get("schema_dump_sha256"):
        raise InvalidState(f"{path.name} : l'empreinte du schéma ne correspond pas, archive "
                           "altérée ou incomplète.")
    return manifest


def commune_offboard(*, commune: Commune) -> CommuneArchive:
    """Export, then remove the schema, domains, rows and files. Export first, always."""
    archive = commune_export(commune=commune)
    schema_name = commune.schema_name
    with transaction.atomic():
        CommuneModule.objects.filter(commune=commune).delete()
        Domain.objects.filter(tenant=commune).delete()
        Commune.objects.filter(pk=commune.pk).delete()
        if commune.database == DEFAULT_DB_ALIAS:
            schemas.drop_schema(schema_name)
        provisioning().commune_removed(commune)
        archive.offboarded_at = timezone.now()
        archive.save(update_fields=["offboarded_at"])
        routing.forget_soon()
    if commune.database != DEFAULT_DB_ALIAS:
        # Another database: dropped once the registry no longer names it (a failure here
        # leaves a schema no row claims, never a row without its schema).
        schemas.drop_schema(schema_name, commune.database)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / schema_name, ignore_errors=True)
    logger.info("offboarded %s (%s); archive %s", commune.name, commune.insee_code, archive.path)
    return archive


def commune_restore(*, path: Path | str, database: str | None = None) -> Commune:
    """Bring an offboarded commune back from its archive: schema (in ``database``, by
    default where a new commune would go), registry rows, files."""

    path = Path(path)
    manifest = read_manifest(path)
    info = manifest["commune"]
    database = check_database(database) if database else database_for_new_commune()
    if Commune.objects.filter(insee_code=info["insee_code"]).exists():
        raise AlreadyOnboarded(f"{info['name']} ({info['insee_code']}) est déjà accueillie.")
    if schemas.schema_exists(info["schema_name"], database):
        raise InvalidState(f"Le schéma {info['schema_name']} existe déjà dans la base "
                           f"{database}.")
    domains = [normalise_domain(d["domain"]) for d in manifest["domains"]]
    taken = list(Domain.objects.filter(domain__in=domains).values_list("domain", flat=True))
    if taken:
        raise DomainTaken(f"Le domaine « {taken[0]} » a été attribué depuis à une autre commune.")
    known_modules = set(Module.objects.values_list("code", flat=True))

    with tempfile.TemporaryDirectory(prefix="opsn-restore-") as tmp:
        with tarfile.open(path, "r") as tar:
            tar.extractall(tmp, filter="data")
        restore_dump(Path(tmp) / "schema.dump", database)
        try:
            # An archive made by an older release is brought up to the current one.
            call_command("migrate_schemas", schema_name=info["schema_name"], database=database,
                         interactive=False, verbosity=0)
            connection_for(database).set_schema_to_public()
            with transaction.atomic():
                commune = Commune.objects.create(
                    schema_name=info["schema_name"], database=database,
                    insee_code=info["insee_code"],
                    name=info["name"], slug=info["slug"], siren=info["siren"],
                    departement_code=info["departement_code"], region_code=info["region_code"],
                    epci_siren=info["epci_siren"],
                    # Archives written before the Chorus Pro routing have none.
                    **{name: info[name] for name in Commune.BILLING_FIELDS if name in info})
                Domain.objects.bulk_create([
                    Domain(domain=d["domain"], tenant=commune, is_primary=d["is_primary"])
                    for d in manifest["domains"]])
                CommuneModule.objects.bulk_create([
                    CommuneModule(commune=commune, module_id=sub["module"],
                                  starts_on=date.fromisoformat(sub["starts_on"]),
                                  ends_on=(date.fromisoformat(sub["ends_on"])
                                           if sub["ends_on"] else None))
                    for sub in manifest.get("subscriptions", [])
                    if sub["module"] in known_modules]
                    or [CommuneModule(commune=commune, module_id=code)
                        for code in manifest["modules"] if code in known_modules])
                CommuneArchive.objects.filter(path=str(path)).update(restored_at=timezone.now())
        except Exception:
            schemas.drop_schema(info["schema_name"], database)
            raise
        media = Path(tmp) / "media"
        if media.is_dir():
            shutil.copytree(media, Path(settings.MEDIA_ROOT) / info["schema_name"],
                            dirs_exist_ok=True)
    routing.forget_all()
    return commune
