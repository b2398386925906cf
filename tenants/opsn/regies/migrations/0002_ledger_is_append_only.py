"""The ledger refuses UPDATE and DELETE: a posted payment is corrected by a reversal.
Created in each commune's schema (this is a commune app)."""

from django.db import migrations

SQL = """
CREATE FUNCTION regies_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'regies: % on the ledger refused: posted entries are never changed; '
        'record a reversal', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER regies_ledger_append_only BEFORE UPDATE OR DELETE ON regies_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION regies_ledger_is_append_only();
CREATE TRIGGER regies_ledger_no_truncate BEFORE TRUNCATE ON regies_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION regies_ledger_is_append_only();
"""

REVERSE = """
DROP TRIGGER regies_ledger_no_truncate ON regies_ledgerentry;
DROP TRIGGER regies_ledger_append_only ON regies_ledgerentry;
DROP FUNCTION regies_ledger_is_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("regies", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
