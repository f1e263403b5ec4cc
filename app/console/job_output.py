"""What a job prints, under `queue:work`: whole lines, and never in the way of the worker's.

A job runs in the worker's process, and its `print()` goes to `sys.stdout`, the same pipe as
the worker's lines. Left as Python sets it up, a piped stdout is block-buffered (8 KB): a
job's output leaves in pieces cut anywhere, a worker line lands in the middle of one, and two
jobs running at once mix their lines mid-line. So the worker's `sys.stdout` and `sys.stderr`
become WholeLines: each thread's text is held until it ends a line, and whole lines leave in
writes of at most PIPE_BUF bytes, which a pipe never interleaves with another writer's (the
worker writes each of its own lines in one write() as well, app/queue/process.py).

With `queue:work --json`, stdout carries the worker's JSON lines only: file descriptor 1
then points where stderr does, so whatever a job writes to stdout (print(), a C library, a
subprocess it starts) goes to stderr, and the JSON lines go to the worker's own copy of the
original stdout.

Nothing here runs per job: only a job that prints pays, per line it prints.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import select
import sys
import threading
from typing import TextIO

PIPE_BUF = getattr(select, "PIPE_BUF", 512)
"""Bytes a pipe writes at once, never interleaved with another process's or thread's write."""


class WholeLines(io.TextIOBase):
    """A text stream on file descriptor `fd` that writes whole lines only (each thread's
    unfinished line is held until its newline, or the end of the process)."""

    def __init__(self, fd: int, encoding: str) -> None:
        super().__init__()
        self._fd = fd
        self._encoding = encoding
        self._partial: dict[int, str] = {}
        """Thread id -> the line it has begun and not ended."""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def errors(self) -> str:
        return "backslashreplace"

    @property
    def buffer(self) -> io.FileIO:
        """For a job that writes bytes (`sys.stdout.buffer.write`): straight to the fd."""
        return io.FileIO(self._fd, "wb", closefd=False)

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        thread = threading.get_ident()
        pending = self._partial.pop(thread, "") + text
        lines, newline, rest = pending.rpartition("\n")
        if rest:
            self._partial[thread] = rest
        if newline:
            self._send(lines + newline)
        return len(text)

    def flush(self) -> None:
        """Nothing is held but unfinished lines, and those wait for their end: a flush() in a
        job (print(…, flush=True), a progress bar) must not cut a line in two."""

    def close(self) -> None:
        if not self.closed:
            self.finish()
        super().close()

    def finish(self) -> None:
        """Write every unfinished line, ended (at exit: nothing a job printed is lost)."""
        held, self._partial = self._partial, {}
        for rest in held.values():
            self._send(rest + "\n")

    def _send(self, text: str) -> None:
        data = text.encode(self._encoding, "backslashreplace")
        with self._lock:
            for chunk in line_chunks(data):
                write_all(self._fd, chunk)


def line_chunks(data: bytes) -> list[bytes]:
    """`data` (whole lines) cut at line ends into pieces of at most PIPE_BUF bytes; a line
    longer than that is a piece of its own."""
    if len(data) <= PIPE_BUF:
        return [data]
    chunks, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + PIPE_BUF) + 1
        if end <= start:  # one line longer than PIPE_BUF
            end = data.find(b"\n", start) + 1 or len(data)
        chunks.append(data[start:end])
        start = end
    return chunks


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def keep_lines_whole(stdout_to_stderr: bool) -> None:
    """Give this worker process WholeLines for sys.stdout and sys.stderr; with
    `stdout_to_stderr` (--json), point file descriptor 1 where 2 points first. Called once
    the worker's own copies of both are taken (app/queue/process.py's own_stream)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(ValueError, OSError, AttributeError):
            stream.flush()
    if stdout_to_stderr:
        os.dup2(2, 1)
    streams = [WholeLines(fd, encoding_of(stream))
               for fd, stream in ((1, sys.stdout), (2, sys.stderr))]
    sys.stdout, sys.stderr = streams
    for stream in streams:
        atexit.register(stream.finish)


def encoding_of(stream: TextIO | None) -> str:
    return getattr(stream, "encoding", None) or "utf-8"
