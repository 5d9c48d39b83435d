"""Users, sessions, API keys and roles: authenticating callers and managing who may call."""
