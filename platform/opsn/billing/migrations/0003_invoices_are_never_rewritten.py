"""Issued invoices are accounting documents: the database itself refuses to delete them or
to rewrite what they say. Only their status (and the dates that go with it) may change,
and the link to a commune that left the platform may be cleared."""

from django.db import migrations

SQL = """
CREATE FUNCTION billing_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'billing: % on % refused: issued documents are never deleted or rewritten',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE FUNCTION billing_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'billing: invoice % cannot be deleted', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.number <> OLD.number OR NEW.year <> OLD.year OR NEW.kind <> OLD.kind
       OR NEW.insee_code <> OLD.insee_code OR NEW.commune_name <> OLD.commune_name
       OR NEW.commune_siren <> OLD.commune_siren OR NEW.total <> OLD.total
       OR NEW.issued_at <> OLD.issued_at OR NEW.run_id IS DISTINCT FROM OLD.run_id
       OR NEW.corrects_id IS DISTINCT FROM OLD.corrects_id THEN
        RAISE EXCEPTION 'billing: invoice % cannot be rewritten; issue a credit note', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER billing_invoice_guard BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_guard();
CREATE TRIGGER billing_invoiceline_never_rewritten BEFORE UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_refuse_rewrite();
"""

REVERSE = """
DROP TRIGGER billing_invoiceline_never_rewritten ON billing_invoiceline;
DROP TRIGGER billing_invoice_guard ON billing_invoice;
DROP FUNCTION billing_invoice_guard();
DROP FUNCTION billing_refuse_rewrite();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_billingrun_invoicesequence_invoice_invoiceline_and_more")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
