"""bankrec ledger service."""
