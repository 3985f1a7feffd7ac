"""Services for the log area."""
