"""Services for the ops area."""
