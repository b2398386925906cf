/* Rows that are history (allocations, invoice lines, closings, deposits, hand-overs,
   merges) are never changed or deleted. Triggers <table>_kept and <table>_not_truncated
   (declared in migration 0006). */
CREATE OR REPLACE FUNCTION regies_history_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'regies: % on % refused: this is history, it is never changed',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
