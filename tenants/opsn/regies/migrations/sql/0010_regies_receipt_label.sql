/* A receipt's label, « <year>-<number, 6 digits at least> » (2026-000042). Python's is
   opsn.regies.models.ledger.receipt_label; a test checks that the two agree. Immutable and
   made of immutable parts: PostgreSQL inlines it. */
CREATE OR REPLACE FUNCTION regies_receipt_label(p_year int, p_number int) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_year::text || '-' || lpad(p_number::text, greatest(6, length(p_number::text)), '0')
$$;
