"""The commune's agents and their roles, in the commune's own schema.

An agent is named by their account's identifier (a plain string, no foreign key into the
public schema, so that a commune schema can live on another database node). Where the
roles come from is the identity layer's business (accounts.auth); what each role may do
is decided here.
"""
