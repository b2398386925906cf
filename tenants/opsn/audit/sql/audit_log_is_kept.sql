/* The audit log is never changed or deleted. Triggers audit_log_kept and
   audit_log_not_truncated on audit_auditevent (declared in migration 0002). */
CREATE OR REPLACE FUNCTION audit_log_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit: % on the audit log refused: it is never changed', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
