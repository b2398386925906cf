/* Issued documents are never deleted or rewritten. Trigger
   billing_invoiceline_never_rewritten on billing_invoiceline (declared in migration 0003). */
CREATE OR REPLACE FUNCTION billing_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'billing: % on % refused: issued documents are never deleted or rewritten',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
