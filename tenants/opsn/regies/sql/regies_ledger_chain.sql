/* Chains each new entry to the régie's previous one (previous_hash, hash). Trigger
   regies_ledger_chain, BEFORE INSERT on regies_ledgerentry (declared in migration 0006). */
CREATE OR REPLACE FUNCTION regies_ledger_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The entry this transaction inserted last: "<schema>:<régie>:<year>:<receipt>:<hash>"
    -- (régie ids repeat from one commune's schema to another). The next receipt of the
    -- same régie and year follows it; receipts are unique per régie and year, so it is the
    -- entry of the previous receipt, found without reading the table.
    head text[] := string_to_array(current_setting('opsn.chain_head', true), ':');
    last_hash text;
BEGIN
    IF head[1] = TG_TABLE_SCHEMA AND head[2] = NEW.regie_id::text
       AND head[3] = NEW.year::text AND head[4] = (NEW.receipt_number - 1)::text THEN
        last_hash := head[5];
    ELSE
        -- EXECUTE: planned at each call for the journal as it is now (a plan kept from
        -- when the journal was one page would read all of it).
        EXECUTE 'SELECT hash FROM regies_ledgerentry WHERE regie_id = $1 AND year = $2
                 AND receipt_number = $3' INTO last_hash
            USING NEW.regie_id, NEW.year, NEW.receipt_number - 1;
        IF last_hash IS NULL THEN  -- the first receipt of its year: the régie's last entry
            EXECUTE 'SELECT hash FROM regies_ledgerentry WHERE regie_id = $1
                     ORDER BY year DESC, receipt_number DESC LIMIT 1' INTO last_hash
                USING NEW.regie_id;
        END IF;
    END IF;
    NEW.previous_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := regies_entry_hash(NEW.previous_hash, NEW.regie_id, NEW.year,
        NEW.receipt_number, NEW.amount, NEW.mode, NEW.payer_id, NEW.payer_name, NEW.details,
        NEW.source, NEW.external_ref, NEW.agent, NEW.agent_name, NEW.posted_at,
        NEW.reverses_id, NEW.reason, NEW.dated_on);
    PERFORM set_config('opsn.chain_head', concat_ws(':', TG_TABLE_SCHEMA, NEW.regie_id,
                       NEW.year, NEW.receipt_number, NEW.hash), true);  -- this transaction
    RETURN NEW;
END $$;
