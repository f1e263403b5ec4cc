"""error_summary: the one line that listings show for a failed job's stored traceback."""

from __future__ import annotations

from app.queue.admin import error_summary

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "app/jobs/mail.py", line 12, in handle\n'
    "    raise RuntimeError('smtp down')\n"
    "RuntimeError: smtp down\n"
)


def test_error_summary_takes_the_last_exception_of_a_chain():
    chained = (TRACEBACK + "\nThe above exception was the direct cause of the following "
               "exception:\n\n" + TRACEBACK.replace("RuntimeError: smtp down", "MailError: x"))
    assert error_summary(chained) == "MailError: x"
    hook = TRACEBACK + "\n\nThe job's failed() hook raised too:\n" + TRACEBACK.replace(
        "smtp down", "hook")
    assert error_summary(hook) == "RuntimeError: smtp down"
    assert error_summary("JobTimeout: ran past 2s\n\n" + TRACEBACK) == "JobTimeout: ran past 2s"
    assert error_summary("") == ""
