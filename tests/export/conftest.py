"""The search tests' fixtures: passwords hashed at Argon2id's cheapest (the bootstrap admin's
and any reader signed in), as the access tests do."""

from tests.auth.conftest import quick_password_hashes  # noqa: F401  (an autouse fixture)
from tests.crash.conftest import server, server_settings  # noqa: F401  (a real server process)
