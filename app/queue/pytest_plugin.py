"""The `fake_queue` pytest fixture, for projects that use Skiplock (registered as a pytest
plugin by the package, so `pip install` is all it takes):

    def test_signup_sends_the_welcome_email(fake_queue):
        signup("a@b.c")
        fake_queue.assert_pushed(SendWelcomeEmail)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.queue import testing


@pytest.fixture
def fake_queue() -> Iterator[testing.FakeQueue]:
    with testing.fake_queue() as fake:
        yield fake
