"""Money that arrives after the counter's closing (issue 14). Transfers, direct debits and
online payments reach the régie's account whatever the counter did: they are no longer
refused once the day is closed, but dated to the next open day. An entry keeps when it was
posted (``posted_at``) and, when it belongs to a later accounting day, that day
(``dated_on``, empty otherwise).

The fingerprint covers it: ``regies_entry_hash`` takes the accounting day and appends it
only when there is one, so every entry written before keeps its fingerprint and the chain
verifies as it did. The chain trigger passes it, and ``regies_insert_payments`` inserts it
from the posting document.

``sql/0011_<function>.sql`` are copies of the source files frozen as this migration
installs them; ``sql/0011_reverse_<function>.sql`` are the versions it replaces."""

from pathlib import Path

from django.db import migrations, models

HERE = Path(__file__).parent / "sql"
OLD_HASH = ("regies_entry_hash(text, bigint, int, int, numeric, text, bigint, text, jsonb, "
            "text, text, text, text, timestamptz, bigint, text)")
NEW_HASH = OLD_HASH.removesuffix(")") + ", date)"

SQL = f"DROP FUNCTION {OLD_HASH};\n" + "\n".join(
    (HERE / f"0011_{name}.sql").read_text()
    for name in ["regies_entry_hash", "regies_ledger_chain", "regies_insert_payments"])
REVERSE = f"DROP FUNCTION {NEW_HASH};\n" + "\n".join([
    (HERE / "0011_reverse_regies_entry_hash.sql").read_text(),
    (HERE / "0011_reverse_regies_ledger_chain.sql").read_text(),
    (HERE / "0010_regies_insert_payments.sql").read_text()])


class Migration(migrations.Migration):
    dependencies = [("regies", "0010_one_home_per_rule")]
    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="dated_on",
            field=models.DateField(blank=True, null=True, verbose_name="journée comptable"),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(condition=models.Q(("dated_on__isnull", False)),
                               fields=["regie", "dated_on"], name="entry_regie_dated_on"),
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
