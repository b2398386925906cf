/* Funds held per régie and mode fall with every deposit. Statement trigger
   regies_deposit_releases, AFTER INSERT on regies_depositline (declared in migration 0006). */
CREATE OR REPLACE FUNCTION regies_release_deposited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE regies_holding h SET amount = h.amount - d.amount
        FROM (SELECT dep.regie_id, l.mode, sum(l.amount) AS amount
              FROM deposited l JOIN regies_deposit dep ON dep.id = l.deposit_id
              GROUP BY dep.regie_id, l.mode) d
        WHERE h.regie_id = d.regie_id AND h.mode = d.mode;
    RETURN NULL;
END $$;
