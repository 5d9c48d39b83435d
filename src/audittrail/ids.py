"""The one id factory: UUIDv7, time-ordered, as canonical lowercase strings."""

import uuid_utils


def new_id() -> str:
    return str(uuid_utils.uuid7())
