/* An invoice is never deleted, and what it says is never rewritten. Trigger
   regies_invoice_unrewritten, BEFORE UPDATE OR DELETE on regies_invoice (migration 0006). */
CREATE OR REPLACE FUNCTION regies_invoice_unrewritten() RETURNS trigger LANGUAGE plpgsql AS $$
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
