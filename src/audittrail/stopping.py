"""A stop signal's first effect: close the intake before uvicorn waits for connections to end.

uvicorn's own handler of SIGTERM and SIGINT only marks the server for exit; it then stops
listening and waits for every open request to be answered, and only after that runs the app's
shutdown. Requests waiting for a group commit would be answered as the writer got to them, with
no bound, and once uvicorn's graceful timeout passed, cut off without an answer, whether or not
their records were committed. So `audittrail serve` chains a handler in front of uvicorn's that
first tells the app, which closes its intake (records/writer.py, `close`): from then on every
request is answered, 201 or 503, within a bounded time.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(callback: Callable[[], None]) -> None:
    """Run ``callback`` on the running loop when a stop signal arrives, then let the handler
    that was there (uvicorn's) do what it does. Call from the main thread, once serving."""
    loop = asyncio.get_running_loop()
    for stop_signal in STOP_SIGNALS:
        previous = signal.getsignal(stop_signal)

        def handler(number: int, frame: FrameType | None, previous: object = previous) -> None:
            loop.call_soon_threadsafe(callback)
            if callable(previous):
                previous(number, frame)
            elif previous == signal.SIG_DFL:  # nobody else listens: what the signal would do
                signal.signal(number, signal.SIG_DFL)
                signal.raise_signal(number)

        signal.signal(stop_signal, handler)
