/* The journal refuses UPDATE, DELETE and TRUNCATE: a posted payment is corrected by a
   reversal. Triggers regies_ledger_append_only and regies_ledger_no_truncate on
   regies_ledgerentry (declared in migration 0002). */
CREATE OR REPLACE FUNCTION regies_ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'regies: % on the ledger refused: posted entries are never changed; '
        'record a reversal', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END $$;
