"""Jobs whose output the console must tame: errors full of terminal escapes, and jobs that
print (for queue:work's whole lines and its pure-JSON stdout)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

from app.queue import Job

HOSTILE = ("\x1b]0;owned\x07\x1b[2J\x1b[31mred\x9b2J\u202eevil\x1b]8;;http://x.example/\x1b\\"
           "link\x1b]8;;\x1b\\")
"""A window title (OSC 0), a clear screen (CSI, and C1 CSI), a colour, a bidi override and an
OSC 8 hyperlink: each would act on a terminal."""


class RaisesHostile(Job):
    tries = 1

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def handle(self) -> None:
        logging.getLogger(__name__).warning("about to fail: %s", HOSTILE)
        raise RuntimeError(f"{self.tag} {HOSTILE}")


class PrintsPieces(Job):
    """Prints `lines` lines, each written in pieces with pauses between them (as a progress
    line is), plus a line from a child process (in one write), and one without its newline at
    the end."""

    def __init__(self, tag: str, lines: int = 5, pause: float = 0.01) -> None:
        self.tag = tag
        self.lines = lines
        self.pause = pause

    def handle(self) -> None:
        for i in range(self.lines):
            for piece in (f"{self.tag} line {i}: ", "half ", "and half"):
                sys.stdout.write(piece)
                sys.stdout.flush()
                time.sleep(self.pause)
            print()
        # One write() in the child: what a child writes is passed on as it writes it (split
        # into several writes, as an unbuffered Python's print() is, it could be torn).
        subprocess.run([sys.executable, "-c", "import os, sys; os.write(1, sys.argv[1].encode())",
                        f"{self.tag} from a child\n"], check=True)
        print(f"{self.tag} unfinished", end="")
