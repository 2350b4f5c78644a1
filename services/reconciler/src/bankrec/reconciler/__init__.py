"""bankrec reconciler service."""
