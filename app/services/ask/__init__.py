"""Services for the ask area."""
