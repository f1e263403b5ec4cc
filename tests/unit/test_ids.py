"""Job ids are ULIDs (as python-ulid reads them), in dispatch order within a process."""

from __future__ import annotations

import time

from ulid import ULID

from app.queue.ids import encode_ulid, new_id, new_ids


def test_ids_are_ulids_with_the_current_time():
    for _ in range(5000):
        text = new_id()
        assert str(ULID.from_str(text)) == text
    assert abs(ULID.from_str(new_id()).timestamp - time.time()) < 2


def test_encoding_matches_python_ulid_at_the_edges():
    for value in (0, 1, 1023, 2**80, 2**128 - 1, int(ULID()), int(ULID())):
        assert encode_ulid(value) == str(ULID.from_int(value))


def test_ids_strictly_increase_within_a_process():
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_batch_of_ids_is_consecutive_and_ordered_with_single_ids():
    before = new_id()
    batch = new_ids(5_000)
    after = new_id()
    values = [int(ULID.from_str(text)) for text in batch]
    assert values == list(range(values[0], values[0] + 5_000))
    assert before < batch[0] and batch[-1] < after
    assert abs(ULID.from_str(batch[0]).timestamp - time.time()) < 2


def test_a_batch_across_a_run_of_shared_leading_characters_is_encoded_whole(monkeypatch):
    # new_ids encodes the first 22 characters once per 2**20 values: a batch that crosses
    # from one such run into the next must still spell every id in full.
    from app.queue import ids

    start = ((time.time_ns() // 1_000_000 + 60_000) << 80) | (2**20 - 3)
    monkeypatch.setattr(ids, "_last", start - 1)  # in the future: the batch starts here
    batch = new_ids(10)
    assert batch == [encode_ulid(value) for value in range(start, start + 10)]
    assert batch == [str(ULID.from_int(value)) for value in range(start, start + 10)]
