"""The README's example job: greets a new user (it prints instead of sending mail)."""

from __future__ import annotations

from app.queue import Abort, Job


class SendWelcomeEmail(Job):
    queue = "emails"  # a worker runs it with: python artisan.py queue:work --queue emails,default
    tries = 5
    backoff = [10, 60, 300]
    timeout = 120

    def __init__(self, user_id: int, email: str) -> None:
        self.user_id = user_id
        self.email = email

    def handle(self) -> None:
        if "@" not in self.email:
            raise Abort(f"not an email address: {self.email!r}")
        self.progress(50, "rendering")
        print(f"Sending welcome email to {self.email} (user {self.user_id})", flush=True)
        self.progress(100, "sent")

    def failed(self, error: BaseException) -> None:
        print(f"Could not welcome user {self.user_id}: {error}", flush=True)
