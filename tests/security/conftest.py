"""The driver parametrisation of tests/drivers, shared by the red-team tests."""
from tests.drivers.conftest import backend  # noqa: F401 - re-exported fixture
