"""Forms of account management: users, departments, roles."""
