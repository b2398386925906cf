/* An invoice's total is the sum of its lines, checked at commit. Constraint trigger
   regies_invoice_total, AFTER INSERT on regies_invoice, deferred (migration 0006). */
CREATE OR REPLACE FUNCTION regies_invoice_sums_its_lines() RETURNS trigger LANGUAGE plpgsql AS $$
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
