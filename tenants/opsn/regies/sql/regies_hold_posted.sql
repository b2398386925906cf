/* Funds held per régie and mode follow every posting. Statement trigger
   regies_ledger_holds, AFTER INSERT on regies_ledgerentry (declared in migration 0006). */
CREATE OR REPLACE FUNCTION regies_hold_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regies_holding AS h (regie_id, mode, amount)
        SELECT regie_id, mode, sum(amount) FROM posted GROUP BY regie_id, mode
        ON CONFLICT (regie_id, mode) DO UPDATE SET amount = h.amount + EXCLUDED.amount;
    RETURN NULL;
END $$;
