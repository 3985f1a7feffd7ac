"""Services for the accounts area."""
