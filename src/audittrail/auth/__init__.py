"""Users, sessions, API keys, roles, and the current-principal dependency."""
