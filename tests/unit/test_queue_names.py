"""The one rule for queue names, and how `--queue` lists are read."""

from __future__ import annotations

import pytest

from app.queue.names import MAX_QUEUE_NAME, check_queue_name, parse_queue_list


@pytest.mark.parametrize("name", ["default", "emails-high", "a b", "очередь 🚀",
                                  "x'; DROP TABLE jobs; --", "q" * MAX_QUEUE_NAME])
def test_names_a_worker_can_be_told_to_take_are_kept_as_they_are(name):
    assert check_queue_name(name) == name


@pytest.mark.parametrize(("name", "message"), [
    ("", "must not be empty"),
    (" default", "starts or ends with a space"),
    ("default\u00a0", "starts or ends with a space"),
    ("high,low", "contains a comma"),
    ("nul\x00", "control character"),
    ("line\nbreak", "control character"),
    ("\udc80", "lone surrogate"),
    ("q" * (MAX_QUEUE_NAME + 1), f"at most {MAX_QUEUE_NAME}"),
    (None, "must be a string"),
    (b"default", "must be a string"),
])
def test_names_no_worker_could_take_are_refused_saying_why(name, message):
    with pytest.raises(ValueError, match=message):
        check_queue_name(name)


@pytest.mark.parametrize(("text", "queues"), [
    ("default", ("default",)),
    ("high,default", ("high", "default")),
    (" high , default ", ("high", "default")),
    ("high,default,high", ("high", "default")),
])
def test_queue_lists_are_read_first_first(text, queues):
    assert parse_queue_list(text) == queues


@pytest.mark.parametrize(("text", "message"), [
    ("", "name at least one queue"),
    ("  ", "name at least one queue"),
    (",,", "name at least one queue"),
    ("high,,low", "empty queue name"),
    ("high,", "empty queue name"),
    ("a\tb", "control character"),
])
def test_queue_lists_without_a_usable_name_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_queue_list(text)
