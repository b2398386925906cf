-- The short way of posting (services/payments.py payments_post): checks that nothing the
-- application read has changed, under the régie's lock, then numbers and inserts. Returns
-- NULL, having written nothing, when something changed.
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
             OR NOT EXISTS (SELECT FROM regies_assignment WHERE regie_id = $1
                            AND account = $3 AND starts_on <= $2
                            AND (ends_on IS NULL OR ends_on > $2))'
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

    INSERT INTO regies_receiptcounter AS c (regie_id, year, last_number)
        VALUES (v_regie, v_year, v_count)
        ON CONFLICT (regie_id, year) DO UPDATE SET last_number = c.last_number + v_count
        RETURNING last_number - v_count + 1 INTO v_first;

    WITH entries AS (
        INSERT INTO regies_ledgerentry (regie_id, year, receipt_number, amount, mode,
            payer_id, payer_name, details, source, external_ref, agent, agent_name,
            posted_at, reason, previous_hash, hash)
        SELECT v_regie, v_year, v_first + (e.i - 1)::int, (e.doc->>'amount')::numeric,
            e.doc->>'mode', (e.doc->>'payer')::bigint, e.doc->>'payer_name', e.doc->'details',
            v_source, e.doc->>'external_ref', p->>'account', p->>'agent_name',
            (p->>'posted_at')::timestamptz, '', '', ''
        FROM jsonb_array_elements(p->'entries') WITH ORDINALITY AS e(doc, i)
        ORDER BY e.i
        RETURNING id, receipt_number)
    SELECT array_agg(id ORDER BY receipt_number) INTO v_ids FROM entries;

    -- Only when there are any: the table's statement trigger runs even for no rows.
    IF jsonb_array_length(p->'allocations') > 0 THEN
        INSERT INTO regies_allocation (entry_id, invoice_id, product_id, quantity, amount,
                                       created_at, created_by)
            SELECT v_ids[(a->>'entry')::int + 1], (a->>'invoice')::bigint,
                (a->>'product')::bigint, (a->>'quantity')::numeric, (a->>'amount')::numeric,
                (p->>'posted_at')::timestamptz, p->>'account'
            FROM jsonb_array_elements(p->'allocations') a;
    END IF;

    -- The audit lines name the receipt, known only now: "<year>-<number, 6 digits>".
    INSERT INTO audit_auditevent (at, code, actor, actor_name, actor_kind, ip, request_id,
                                  target, summary, data)
        SELECT (p->>'posted_at')::timestamptz, p->>'code', p->>'account', p->>'actor_name',
            p->>'actor_kind', (p->>'ip')::inet, '', 'entry:' || v_ids[e.i::int],
            (e.doc->'audit'->>0) || r.receipt || (e.doc->'audit'->>1),
            jsonb_set(e.doc->'audit'->2, '{receipt}', to_jsonb(r.receipt))
        FROM jsonb_array_elements(p->'entries') WITH ORDINALITY AS e(doc, i),
            LATERAL (SELECT v_year || '-' || lpad((v_first + e.i - 1)::text,
                greatest(6, length((v_first + e.i - 1)::text)), '0') AS receipt) r
        WHERE e.doc ? 'audit';

    RETURN jsonb_build_object('first', v_first, 'ids', to_jsonb(v_ids));
END $$;
