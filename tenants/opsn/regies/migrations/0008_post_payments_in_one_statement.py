"""Posting checked payments in one statement (``payments.payments_post``'s short path).

The application checks the payments against what it read of the régie and its invoices
without a lock; this function then takes the régie's lock, makes sure nothing it read has
changed since (the régie's and the invoices' row versions, the day still open, the agent
still appointed, the references still unused), numbers the receipts, inserts the entries
(chained by their trigger), their allocations and their audit lines. Called alone, in
autocommit, the lock is held for the statement only: no round trip to the application
while other posters wait. When anything changed it returns NULL and inserts nothing; the
application then posts the long way, checking again under the lock, and says why if it
refuses. The rules themselves stay in the application: this function only guards that
what they were checked on still holds.
"""

from django.db import migrations

SQL = r"""
CREATE FUNCTION regies_post_payments(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_regie bigint := (p->>'regie')::bigint;
    v_day date := (p->>'day')::date;
    v_year int := (p->>'year')::int;
    v_count int := jsonb_array_length(p->'entries');
    -- Arrays, not subqueries: "= ANY(array)" probes the indexes whatever the statistics
    -- say (a subquery over the document let the planner scan the régie's entries).
    v_refs text[] := ARRAY(SELECT jsonb_array_elements_text(p->'refs'));
    v_invoices bigint[] := ARRAY(SELECT (v->>0)::bigint
                                 FROM jsonb_array_elements(p->'invoices') v);
    v_first int;
    v_ids bigint[];
BEGIN
    -- In READ COMMITTED each statement below sees what committed while this one waited.
    PERFORM FROM regies_regie WHERE id = v_regie AND xmin::text = p->>'regie_version'
        FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT FROM regies_dailyclosing WHERE regie_id = v_regie AND day = v_day)
       OR NOT EXISTS (SELECT FROM regies_assignment WHERE regie_id = v_regie
                      AND account = p->>'account' AND starts_on <= v_day
                      AND (ends_on IS NULL OR ends_on > v_day))
       OR EXISTS (SELECT FROM regies_ledgerentry WHERE regie_id = v_regie
                  AND source = p->>'source' AND external_ref <> ''
                  AND external_ref = ANY(v_refs)) THEN
        RETURN NULL;
    END IF;
    -- The invoices paid: locked, then compared with the versions the checks read.
    IF cardinality(v_invoices) > 0 THEN
        PERFORM FROM regies_invoice WHERE id = ANY(v_invoices) ORDER BY id FOR UPDATE;
        IF EXISTS (SELECT FROM jsonb_array_elements(p->'invoices') v
                   LEFT JOIN regies_invoice i ON i.id = (v->>0)::bigint
                       AND i.xmin::text = v->>1
                   WHERE i.id IS NULL) THEN
            RETURN NULL;
        END IF;
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
            p->>'source', e.doc->>'external_ref', p->>'account', p->>'agent_name',
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
"""


class Migration(migrations.Migration):
    dependencies = [("regies", "0007_chain_reads_the_last_receipt")]
    operations = [migrations.RunSQL(SQL, "DROP FUNCTION regies_post_payments(jsonb);")]
