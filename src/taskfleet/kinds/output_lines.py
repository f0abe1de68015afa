"""A stream's output line by line, as it comes: what ``run --tag`` prints of a task.

A kind that runs a command feeds its output chunks to a ``LineSplitter`` per
stream; each complete line goes to the attempt's ``RunContext.on_output``.
"""

from __future__ import annotations

from taskfleet.kinds.base import OutputListener

__all__ = ["MAX_LINE_BYTES", "LineSplitter"]

# A longer line is handed on in pieces of this size (the shell kind's tail size).
MAX_LINE_BYTES = 64 * 1024


class LineSplitter:
    """Hands each complete line of a stream to a listener as it comes (``run --tag``).

    A line longer than MAX_LINE_BYTES is handed on in pieces of that size, so a
    command that never prints a newline costs bounded memory here too. A piece
    may cut a UTF-8 sequence: its halves decode as replacement characters.
    """

    __slots__ = ("_listener", "_partial", "_stream")

    def __init__(self, listener: OutputListener, stream: str) -> None:
        self._listener, self._stream, self._partial = listener, stream, bytearray()

    def feed(self, chunk: bytes) -> None:
        """Take a chunk of the stream; hand on the lines it completes."""
        data = self._partial
        data += chunk
        start = 0
        while True:
            # A newline within MAX_LINE_BYTES of the start ends a line; without
            # one, a full piece goes on alone and the rest waits for more.
            end = data.find(b"\n", start, start + MAX_LINE_BYTES + 1)
            if end >= 0:
                self._hand_on(data[start:end])
                start = end + 1
            elif len(data) - start > MAX_LINE_BYTES:
                self._hand_on(data[start : start + MAX_LINE_BYTES])
                start += MAX_LINE_BYTES
            else:
                break
        del data[:start]

    def flush(self) -> None:
        """The last line, if the stream ended without a newline."""
        if self._partial:
            self._hand_on(self._partial)
            self._partial.clear()

    def _hand_on(self, line: bytes | bytearray) -> None:
        self._listener(self._stream, line.decode("utf-8", errors="replace"))
