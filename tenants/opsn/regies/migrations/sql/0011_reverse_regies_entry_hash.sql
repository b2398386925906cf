/* An entry's fingerprint: the previous entry's hash and what the entry says. The chain
   trigger (regies_ledger_chain) writes it, regies/chain.py verify_chain checks it. */
CREATE OR REPLACE FUNCTION regies_entry_hash(p_previous text, p_regie bigint, p_year int, p_receipt int,
        p_amount numeric, p_mode text, p_payer bigint, p_payer_name text, p_details jsonb,
        p_source text, p_external_ref text, p_agent text, p_agent_name text,
        p_posted timestamptz, p_reverses bigint, p_reason text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(concat_ws(chr(31), p_previous, p_regie::text,
        p_year::text, p_receipt::text, p_amount::text, p_mode, coalesce(p_payer::text, ''),
        p_payer_name, p_details::text, p_source, p_external_ref, p_agent, p_agent_name,
        to_char(p_posted AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        coalesce(p_reverses::text, ''), p_reason), 'UTF8')), 'hex')
$$;
