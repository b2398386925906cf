"""The commune's own site: home page and the commune administrator's space."""
