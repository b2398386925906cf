"""Running the platform for real: probes, metrics, structured logs, error reports,
security headers, the production server."""
