"""The hash chain is computed by the database itself, on insert: one definition of an
entry's fingerprint, used to write and to verify (a million entries in seconds)."""

from django.db import migrations

SQL = r"""
CREATE FUNCTION regies_entry_hash(p_previous text, p_regie bigint, p_year int, p_receipt int,
        p_amount numeric, p_mode text, p_payer text, p_details jsonb, p_agent text,
        p_posted timestamptz, p_reverses bigint, p_reason text)
    RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(concat_ws(chr(31), p_previous, p_regie::text,
        p_year::text, p_receipt::text, p_amount::text, p_mode, p_payer, p_details::text,
        p_agent, to_char(p_posted AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        coalesce(p_reverses::text, ''), p_reason), 'UTF8')), 'hex')
$$;

CREATE FUNCTION regies_ledger_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_hash text;
BEGIN
    SELECT hash INTO last_hash FROM regies_ledgerentry
        WHERE regie_id = NEW.regie_id ORDER BY id DESC LIMIT 1;
    NEW.previous_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := regies_entry_hash(NEW.previous_hash, NEW.regie_id, NEW.year,
        NEW.receipt_number, NEW.amount, NEW.mode, NEW.payer_name, NEW.details, NEW.agent,
        NEW.posted_at, NEW.reverses_id, NEW.reason);
    RETURN NEW;
END $$;

CREATE TRIGGER regies_ledger_chain BEFORE INSERT ON regies_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION regies_ledger_chain();
CREATE INDEX regies_ledger_regie_order ON regies_ledgerentry (regie_id, id);
"""

REVERSE = """
DROP INDEX regies_ledger_regie_order;
DROP TRIGGER regies_ledger_chain ON regies_ledgerentry;
DROP FUNCTION regies_ledger_chain();
DROP FUNCTION regies_entry_hash(text, bigint, int, int, numeric, text, text, jsonb, text,
    timestamptz, bigint, text);
"""


class Migration(migrations.Migration):
    dependencies = [("regies", "0002_ledger_is_append_only")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
