"""The operator's web console (public schema, on the operator's own host)."""
