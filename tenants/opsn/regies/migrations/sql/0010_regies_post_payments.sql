/* The short way of posting (services/payments.py payments_post): under the régie's lock,
   makes sure nothing the application's checks read has changed (the régie's and the
   invoices' row versions, the day still open, the agent still appointed, the references
   unused), then numbers the receipts and inserts (regies_insert_payments). Returns NULL,
   having written nothing, when something changed: the application then goes the long way. */
CREATE OR REPLACE FUNCTION regies_post_payments(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_regie bigint := (p->>'regie')::bigint;
    v_day date := (p->>'day')::date;
    v_year int := (p->>'year')::int;
    v_count int := jsonb_array_length(p->'entries');
    v_source text := p->>'source';
    v_refs text[] := ARRAY(SELECT jsonb_array_elements_text(p->'refs'));
    v_ref text;
    v_invoices bigint[] := ARRAY(SELECT (v->>0)::bigint
                                 FROM jsonb_array_elements(p->'invoices') v);
    v_refused boolean;
    v_invoice jsonb;
    v_first int;
    v_ids bigint[];
BEGIN
    -- In READ COMMITTED each statement below sees what committed while this one waited.
    PERFORM FROM regies_regie WHERE id = v_regie AND xmin::text = p->>'regie_version'
        FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- The reads below go through EXECUTE: planned at each call for the tables as they are
    -- (a plan kept from when a table was one page would read all of it).
    EXECUTE 'SELECT EXISTS (SELECT FROM regies_dailyclosing WHERE regie_id = $1 AND day = $2)
             OR NOT EXISTS (SELECT FROM regies_appointed_on($2) a WHERE a.regie_id = $1
                            AND a.account = $3)'
        INTO v_refused USING v_regie, v_day, p->>'account';
    IF v_refused THEN
        RETURN NULL;
    END IF;
    -- One probe per reference, every column of the unique index given.
    FOREACH v_ref IN ARRAY v_refs LOOP
        EXECUTE $q$SELECT EXISTS (SELECT FROM regies_ledgerentry WHERE regie_id = $1
                 AND source = $2 AND external_ref = $3 AND external_ref <> '')$q$
            INTO v_refused USING v_regie, v_source, v_ref;
        IF v_refused THEN
            RETURN NULL;
        END IF;
    END LOOP;
    -- The invoices paid: locked, then compared with the versions the checks read.
    IF cardinality(v_invoices) > 0 THEN
        EXECUTE 'SELECT count(*) FROM (SELECT FROM regies_invoice WHERE id = ANY($1)
                 ORDER BY id FOR UPDATE) locked' USING v_invoices;
        -- One by one, by key (a join with the document's list, which the planner takes
        -- for a hundred rows, scanned every invoice).
        FOR v_invoice IN SELECT jsonb_array_elements(p->'invoices') LOOP
            EXECUTE 'SELECT NOT EXISTS (SELECT FROM regies_invoice WHERE id = $1
                     AND xmin::text = $2)'
                INTO v_refused USING (v_invoice->>0)::bigint, v_invoice->>1;
            IF v_refused THEN
                RETURN NULL;
            END IF;
        END LOOP;
    END IF;

    v_first := regies_take_receipt_numbers(v_regie, v_year, v_count);
    v_ids := regies_insert_payments(p, v_first);
    RETURN jsonb_build_object('first', v_first, 'ids', to_jsonb(v_ids));
END $$;
