"""The `fake_queue` pytest fixture, for projects that use Skiplock (registered as a pytest
plugin by the package, so `pip install` is all it takes):

    def test_signup_sends_the_welcome_email(fake_queue):
        signup("a@b.c")
        fake_queue.assert_pushed(SendWelcomeEmail)

Every pytest run of an environment with Skiplock installed loads this module, so it imports
nothing of Skiplock's until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from app.queue.testing import FakeQueue


@pytest.fixture
def fake_queue() -> Iterator[FakeQueue]:
    from app.queue import testing

    with testing.fake_queue() as fake:
        yield fake
