"""Login log and audit of authentication events."""
