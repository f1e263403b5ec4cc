"""Queue names on the command line follow the rule dispatch follows (app/queue/names.py):
a name no job could be on is refused with one line and exit 2, never read as "the default"."""

from __future__ import annotations

import pytest

from tests.support import artisan

REFUSED = {
    "work, empty": (("queue:work", "--queue", ""), "--queue: name at least one queue"),
    "work, commas only": (("queue:work", "--queue", ",,"), "--queue: name at least one queue"),
    "work, empty entry": (("queue:work", "--queue", "high,,low"), "--queue: empty queue name"),
    "work, control character": (("queue:work", "--queue", "a\tb"), "control character"),
    "pause, leading space": (("queue:pause", " default"), "QUEUE: queue name ' default' starts"),
    "pause, comma": (("queue:pause", "a,b"), "contains a comma"),
    "resume, empty": (("queue:resume", ""), "QUEUE: queue name must not be empty"),
    "clear, empty": (("queue:clear", "--queue", "", "--force"), "must not be empty"),
    "failed, trailing space": (("queue:failed", "--queue", "default "), "starts or ends"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_queue_name_no_job_could_be_on_is_refused_in_one_line(queue, case):
    args, message = REFUSED[case]
    # --max-time and --stop-when-empty: were the name taken as the default queue, the worker
    # would still end.
    extra = ("--stop-when-empty", "--max-time", "5") if args[0] == "queue:work" else ()
    result = artisan(*args, *extra, timeout=30)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: invalid value"), \
        result.stderr
    assert message in result.stderr


def test_spaces_around_the_commas_of_a_queue_list_are_not_part_of_the_names(queue):
    result = artisan("queue:work", "--queue", " high , default", "--once", "--max-time", "5")
    assert result.returncode == 0, result.stderr
    assert "Processing jobs from the high, default queues" in result.stdout


def test_a_bad_queue_default_is_a_configuration_error(queue):
    result = artisan("queue:status", env={"QUEUE_DEFAULT": "high,low"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid value for QUEUE_DEFAULT: 'high,low' (queue name 'high,low' contains a "
        "comma, which separates queue names in `--queue`)"]
