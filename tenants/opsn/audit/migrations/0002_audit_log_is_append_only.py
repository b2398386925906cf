"""The audit log is never changed or deleted (in each commune's schema)."""

from django.db import migrations

SQL = """
CREATE FUNCTION audit_log_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit: % on the audit log refused: it is never changed', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER audit_log_kept BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_kept();
CREATE TRIGGER audit_log_not_truncated BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_kept();
"""

REVERSE = """
DROP TRIGGER audit_log_not_truncated ON audit_auditevent;
DROP TRIGGER audit_log_kept ON audit_auditevent;
DROP FUNCTION audit_log_is_kept();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
