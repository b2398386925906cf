"""What the database itself guarantees about a régie's books (created in each commune's
schema):

- the chain's fingerprint now covers the payer, the source, the external reference and
  the agent's name (existing entries are re-chained once, in order);
- funds held per mode (``regies_holding``) follow every posting and every deposit;
- each invoice's ``amount_paid`` follows its allocations, which are append-only; a
  cancelled invoice takes no new payment;
- an invoice's number, payer, dates, total and lines are never rewritten, its total is
  the sum of its lines (checked at commit), and it is never deleted;
- closings, deposits, hand-overs and merges are never changed or deleted.
"""

from django.db import migrations

SQL = r"""
DROP TRIGGER regies_ledger_chain ON regies_ledgerentry;
DROP FUNCTION regies_ledger_chain();
DROP FUNCTION regies_entry_hash(text, bigint, int, int, numeric, text, text, jsonb, text,
    timestamptz, bigint, text);

CREATE FUNCTION regies_entry_hash(p_previous text, p_regie bigint, p_year int, p_receipt int,
        p_amount numeric, p_mode text, p_payer bigint, p_payer_name text, p_details jsonb,
        p_source text, p_external_ref text, p_agent text, p_agent_name text,
        p_posted timestamptz, p_reverses bigint, p_reason text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(concat_ws(chr(31), p_previous, p_regie::text,
        p_year::text, p_receipt::text, p_amount::text, p_mode, coalesce(p_payer::text, ''),
        p_payer_name, p_details::text, p_source, p_external_ref, p_agent, p_agent_name,
        to_char(p_posted AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
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
        NEW.receipt_number, NEW.amount, NEW.mode, NEW.payer_id, NEW.payer_name, NEW.details,
        NEW.source, NEW.external_ref, NEW.agent, NEW.agent_name, NEW.posted_at,
        NEW.reverses_id, NEW.reason);
    RETURN NEW;
END $$;

-- Re-chain what an earlier release posted, in order, with the new fingerprint.
ALTER TABLE regies_ledgerentry DISABLE TRIGGER USER;
DO $$
DECLARE
    r record;
    last_regie bigint := NULL;
    last_hash text;
    new_hash text;
BEGIN
    FOR r IN SELECT * FROM regies_ledgerentry ORDER BY regie_id, id LOOP
        IF last_regie IS DISTINCT FROM r.regie_id THEN
            last_hash := repeat('0', 64);
            last_regie := r.regie_id;
        END IF;
        new_hash := regies_entry_hash(last_hash, r.regie_id, r.year, r.receipt_number,
            r.amount, r.mode, r.payer_id, r.payer_name, r.details, r.source, r.external_ref,
            r.agent, r.agent_name, r.posted_at, r.reverses_id, r.reason);
        UPDATE regies_ledgerentry SET previous_hash = last_hash, hash = new_hash
            WHERE id = r.id;
        last_hash := new_hash;
    END LOOP;
END $$;
ALTER TABLE regies_ledgerentry ENABLE TRIGGER USER;

CREATE TRIGGER regies_ledger_chain BEFORE INSERT ON regies_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION regies_ledger_chain();

-- Funds held, per régie and mode: what was posted and not yet deposited.
INSERT INTO regies_holding (regie_id, mode, amount)
    SELECT regie_id, mode, sum(amount) FROM regies_ledgerentry GROUP BY regie_id, mode;

CREATE FUNCTION regies_hold_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regies_holding AS h (regie_id, mode, amount)
        SELECT regie_id, mode, sum(amount) FROM posted GROUP BY regie_id, mode
        ON CONFLICT (regie_id, mode) DO UPDATE SET amount = h.amount + EXCLUDED.amount;
    RETURN NULL;
END $$;
CREATE TRIGGER regies_ledger_holds AFTER INSERT ON regies_ledgerentry
    REFERENCING NEW TABLE AS posted FOR EACH STATEMENT EXECUTE FUNCTION regies_hold_posted();

CREATE FUNCTION regies_release_deposited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE regies_holding h SET amount = h.amount - d.amount
        FROM (SELECT dep.regie_id, l.mode, sum(l.amount) AS amount
              FROM deposited l JOIN regies_deposit dep ON dep.id = l.deposit_id
              GROUP BY dep.regie_id, l.mode) d
        WHERE h.regie_id = d.regie_id AND h.mode = d.mode;
    RETURN NULL;
END $$;
CREATE TRIGGER regies_deposit_releases AFTER INSERT ON regies_depositline
    REFERENCING NEW TABLE AS deposited FOR EACH STATEMENT
    EXECUTE FUNCTION regies_release_deposited();

-- Invoices: amount_paid follows the allocations; a cancelled invoice takes no payment.
CREATE FUNCTION regies_invoice_paid() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    refused text;
BEGIN
    SELECT i.number INTO refused FROM allocated a JOIN regies_invoice i ON i.id = a.invoice_id
        WHERE a.amount > 0 AND i.cancelled_at IS NOT NULL LIMIT 1;
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'regies: invoice % is cancelled and takes no payment', refused
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE regies_invoice i SET amount_paid = i.amount_paid + a.amount
        FROM (SELECT invoice_id, sum(amount) AS amount FROM allocated
              WHERE invoice_id IS NOT NULL GROUP BY invoice_id) a
        WHERE i.id = a.invoice_id;
    RETURN NULL;
END $$;
CREATE TRIGGER regies_allocation_pays AFTER INSERT ON regies_allocation
    REFERENCING NEW TABLE AS allocated FOR EACH STATEMENT
    EXECUTE FUNCTION regies_invoice_paid();

CREATE FUNCTION regies_invoice_unrewritten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'regies: an invoice is never deleted; cancel it'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.number <> OLD.number OR NEW.payer_id <> OLD.payer_id OR NEW.total <> OLD.total
            OR NEW.issued_on <> OLD.issued_on OR NEW.due_on <> OLD.due_on
            OR NEW.created_by <> OLD.created_by OR NEW.created_at <> OLD.created_at
            OR (OLD.cancelled_at IS NOT NULL
                AND NEW.cancelled_at IS DISTINCT FROM OLD.cancelled_at) THEN
        RAISE EXCEPTION 'regies: invoice % is never rewritten; cancel it and issue another',
            OLD.number USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER regies_invoice_unrewritten BEFORE UPDATE OR DELETE ON regies_invoice
    FOR EACH ROW EXECUTE FUNCTION regies_invoice_unrewritten();

-- Checked at commit, when the connection may be in another schema: the table is named
-- with the schema of the invoice that fired the trigger.
CREATE FUNCTION regies_invoice_sums_its_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lines numeric;
BEGIN
    EXECUTE format('SELECT sum(amount) FROM %I.regies_invoiceline WHERE invoice_id = $1',
                   TG_TABLE_SCHEMA) INTO lines USING NEW.id;
    IF lines IS DISTINCT FROM NEW.total THEN
        RAISE EXCEPTION 'regies: invoice % totals % but its lines add up to %', NEW.number,
            NEW.total, coalesce(lines, 0) USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER regies_invoice_total AFTER INSERT ON regies_invoice
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION regies_invoice_sums_its_lines();

-- Rows that are history: never changed, never deleted.
CREATE FUNCTION regies_history_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'regies: % on % refused: this is history, it is never changed',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
"""

HISTORY = ["regies_allocation", "regies_invoiceline", "regies_dailyclosing",
           "regies_closingline", "regies_deposit", "regies_depositline", "regies_handover",
           "regies_regiemerge"]

SQL += "".join(f"""
CREATE TRIGGER {t}_kept BEFORE UPDATE OR DELETE ON {t}
    FOR EACH ROW EXECUTE FUNCTION regies_history_is_kept();
CREATE TRIGGER {t}_not_truncated BEFORE TRUNCATE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION regies_history_is_kept();
""" for t in HISTORY)

class Migration(migrations.Migration):
    dependencies = [("regies", "0005_regie_operations")]
    # Not reversible: the previous fingerprint function is gone, and history stays.
    operations = [migrations.RunSQL(SQL)]
