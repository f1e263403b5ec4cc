"""The Redis driver implements the queue-store contract's dispatch and worker side, method
for method, with the contract's parameters in the contract's order (as the PostgreSQL
driver: tests/unit/test_store_contract.py)."""

from __future__ import annotations

import typing

import pytest

from app.queue.connections import base
from app.queue.connections.redis.listener import RedisListener
from app.queue.connections.redis.store import (
    DiscardedMetrics,
    RedisBeat,
    RedisClaimer,
    RedisStore,
)
from tests.unit.test_store_contract import assert_implements

IMPLEMENTATIONS = [
    (base.QueueStore, RedisStore), (base.Claimer, RedisClaimer),
    (base.WakeupListener, RedisListener), (base.MetricsWriter, DiscardedMetrics),
]


@pytest.mark.parametrize(("protocol", "driver"), IMPLEMENTATIONS,
                         ids=[protocol.__name__ for protocol, _ in IMPLEMENTATIONS])
def test_the_redis_driver_has_every_method_of_the_contract(protocol, driver):
    assert_implements(protocol, driver)


def test_the_redis_beat_has_every_field_the_contract_names():
    assert set(typing.get_type_hints(base.Beat)) <= set(RedisBeat.__dataclass_fields__)
