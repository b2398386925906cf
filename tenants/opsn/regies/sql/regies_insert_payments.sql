/* The one INSERT path of postings: checked payments, numbered from p_first in the order
   given, inserted with what they pay (allocations) and, for those that carry one, their
   audit line, which names the receipt. The short way (regies_post_payments, after its
   guard) and the long way (services/payments.py, after its checks under the régie's lock)
   both end here. It checks nothing: its callers have, under the régie's lock. Returns the
   entries' ids in receipt order.
     p: {regie, year, source, account, agent_name, actor_name, actor_kind, ip, posted_at,
         dated_on (the accounting day when it is not posted_at's: money dated to the next
         open day), code,
         entries: [{amount, mode, payer, payer_name, details, external_ref,
                    audit: [summary before the receipt, summary after it, data]}],
         allocations: [{entry (index in entries), invoice | product and quantity, amount}]} */
CREATE OR REPLACE FUNCTION regies_insert_payments(p jsonb, p_first int) RETURNS bigint[]
    LANGUAGE plpgsql AS $$
DECLARE
    v_regie bigint := (p->>'regie')::bigint;
    v_year int := (p->>'year')::int;
    v_source text := p->>'source';
    v_account text := p->>'account';
    v_agent_name text := p->>'agent_name';
    v_posted_at timestamptz := (p->>'posted_at')::timestamptz;
    v_dated_on date := (p->>'dated_on')::date;
    v_ids bigint[];
BEGIN
    WITH entries AS (
        INSERT INTO regies_ledgerentry (regie_id, year, receipt_number, amount, mode,
            payer_id, payer_name, details, source, external_ref, agent, agent_name,
            posted_at, dated_on, reason, previous_hash, hash)
        SELECT v_regie, v_year, p_first + (e.i - 1)::int, (e.doc->>'amount')::numeric,
            e.doc->>'mode', (e.doc->>'payer')::bigint, e.doc->>'payer_name', e.doc->'details',
            v_source, e.doc->>'external_ref', v_account, v_agent_name, v_posted_at,
            v_dated_on, '', '', ''
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
                v_posted_at, v_account
            FROM jsonb_array_elements(p->'allocations') a;
    END IF;

    -- The audit lines name the receipt, known only now.
    INSERT INTO audit_auditevent (at, code, actor, actor_name, actor_kind, ip, request_id,
                                  target, summary, data)
        SELECT v_posted_at, p->>'code', v_account, p->>'actor_name', p->>'actor_kind',
            (p->>'ip')::inet, '', 'entry:' || v_ids[e.i::int],
            (e.doc->'audit'->>0) || r.receipt || (e.doc->'audit'->>1),
            jsonb_set(e.doc->'audit'->2, '{receipt}', to_jsonb(r.receipt))
        FROM jsonb_array_elements(p->'entries') WITH ORDINALITY AS e(doc, i),
            LATERAL (SELECT regies_receipt_label(v_year, p_first + (e.i - 1)::int)
                     AS receipt) r
        WHERE e.doc ? 'audit';

    RETURN v_ids;
END $$;
