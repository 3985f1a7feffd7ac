"""Services for the admin area."""
