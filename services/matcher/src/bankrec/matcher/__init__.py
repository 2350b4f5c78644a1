"""bankrec matcher service."""
