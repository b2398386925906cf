/* Each invoice's amount_paid follows its allocations; a cancelled invoice takes no
   payment. Statement trigger regies_allocation_pays, AFTER INSERT on regies_allocation
   (declared in migration 0006). */
CREATE OR REPLACE FUNCTION regies_invoice_paid() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    refused text;
BEGIN
    EXECUTE 'SELECT i.number FROM allocated a JOIN regies_invoice i ON i.id = a.invoice_id
             WHERE a.amount > 0 AND i.cancelled_at IS NOT NULL LIMIT 1' INTO refused;
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'regies: invoice % is cancelled and takes no payment', refused
            USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE 'UPDATE regies_invoice i SET amount_paid = i.amount_paid + a.amount
             FROM (SELECT invoice_id, sum(amount) AS amount FROM allocated
                   WHERE invoice_id IS NOT NULL GROUP BY invoice_id) a
             WHERE i.id = a.invoice_id';
    RETURN NULL;
END $$;
