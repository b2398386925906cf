/* An issued invoice is never deleted; only its status (and the dates that go with it)
   changes. Trigger billing_invoice_guard on billing_invoice (declared in migration 0003). */
CREATE OR REPLACE FUNCTION billing_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'billing: invoice % cannot be deleted', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.number <> OLD.number OR NEW.year <> OLD.year OR NEW.kind <> OLD.kind
       OR NEW.insee_code <> OLD.insee_code OR NEW.commune_name <> OLD.commune_name
       OR NEW.commune_siren <> OLD.commune_siren OR NEW.commune_siret <> OLD.commune_siret
       OR NEW.service_code <> OLD.service_code
       OR NEW.engagement_number <> OLD.engagement_number OR NEW.total <> OLD.total
       OR NEW.total_excl_vat <> OLD.total_excl_vat OR NEW.vat_total <> OLD.vat_total
       OR NEW.issued_at <> OLD.issued_at OR NEW.run_id IS DISTINCT FROM OLD.run_id
       OR NEW.corrects_id IS DISTINCT FROM OLD.corrects_id THEN
        RAISE EXCEPTION 'billing: invoice % cannot be rewritten; issue a credit note', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
