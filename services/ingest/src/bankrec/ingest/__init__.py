"""bankrec ingest service."""
