"""Official reference data on French communes (INSEE codes, SIREN, EPCI, populations)."""
