import pytest
import responses


@pytest.fixture
def api():
    """The fake cloud API: every HTTP request of the test goes to `responses`."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    """Records the waits a client asks for, so retry tests run instantly."""
    return []
