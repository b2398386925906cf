"""Billing the communes: pricing rules per application and year, and the yearly run that
computes each commune's contribution, exact to the cent. Public schema."""
