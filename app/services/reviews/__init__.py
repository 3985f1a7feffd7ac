"""Services for the reviews area."""
