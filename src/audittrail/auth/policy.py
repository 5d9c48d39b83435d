"""The password policy: at least 12 characters (auth/schemas.py), and hard to guess (zxcvbn).

zxcvbn estimates how many guesses a password takes, knowing dictionaries, names, keyboard
patterns, dates, l33t substitutions and what else the service knows of the user (their email).
Its score 3 means at least 10^8 guesses: against argon2id at its default cost (tens of
milliseconds of CPU a guess), months of one core's time for one account, which is what its
authors call "safely unguessable" for an offline attack on slow hashes. Below that, a password
falls to a stolen database in hours.
"""

from __future__ import annotations

import asyncio
import re
import threading

from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # no stubs published

from audittrail.errors import FieldProblem, Unprocessable

MIN_SCORE = 3
# zxcvbn refuses longer passwords (its matching grows fast with the length); a password weak in
# its first 72 characters is refused, one strong in them is strong whatever follows.
SCORED_LENGTH = 72
# zxcvbn keeps the user's words in a module-wide dictionary while it scores: one at a time.
_one_at_a_time = threading.Lock()


class PasswordTooWeak(Unprocessable):
    def __init__(self, field: str, feedback: str) -> None:
        super().__init__(
            f"The password is too easy to guess: {feedback}",
            code="PASSWORD_TOO_WEAK",
            details=[FieldProblem(field, "PASSWORD_TOO_WEAK", feedback)],
        )


def _words_of(email: str) -> list[str]:
    """The email and its parts (name, domain words): a password made of them is guessable."""
    return [email, *(part for part in re.split(r"[^a-z0-9]+", email.lower()) if part)]


def _score(password: str, email: str) -> tuple[int, str]:
    with _one_at_a_time:
        result = zxcvbn(password[:SCORED_LENGTH], user_inputs=_words_of(email))
    feedback = result["feedback"]
    advice = feedback["warning"] or " ".join(feedback["suggestions"])
    return int(result["score"]), advice or "Add more words or characters."


async def check_strength(password: str, *, email: str, field: str) -> None:
    """422 PASSWORD_TOO_WEAK, naming the field and zxcvbn's advice, for a guessable password.

    Scored in a thread: tens of milliseconds for a long password, too long for the event loop.
    """
    score, advice = await asyncio.to_thread(_score, password, email)
    if score < MIN_SCORE:
        raise PasswordTooWeak(field, advice)
