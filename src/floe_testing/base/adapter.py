"""``AdapterTestBase``: an adapter initialises and moves data from one component to another."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from floe_testing.base.integration import IntegrationTestBase


class AdapterTestBase(IntegrationTestBase):
    """Tests of an adapter between ``source_component`` and ``target_component``.

    A subclass fills in the hooks: :meth:`create_adapter`, :meth:`sample_data`,
    :meth:`write_source` and :meth:`read_target`; :meth:`assert_data_equal` compares and
    may be overridden for order-insensitive or typed comparisons.
    """

    source_component: ClassVar[str]
    target_component: ClassVar[str]

    @abstractmethod
    def create_adapter(self) -> Any:
        """Build the adapter under test with a valid configuration."""

    @abstractmethod
    def sample_data(self) -> Any:
        """Data to push through the adapter."""

    @abstractmethod
    def write_source(self, adapter: Any, data: Any) -> None:
        """Put ``data`` into the source component, through the adapter where it applies."""

    @abstractmethod
    def read_target(self, adapter: Any) -> Any:
        """Read what arrived in the target component."""

    def check_adapter(self, adapter: Any) -> None:
        """Extra checks on a freshly built adapter; the default only requires one exists."""
        assert adapter is not None, f"{type(self).__name__}.create_adapter() returned None"

    def assert_data_equal(self, sent: Any, received: Any) -> None:
        """Compare what was written with what was read."""
        assert received == sent, (
            f"data changed between {self.source_component} and {self.target_component}: "
            f"sent {sent!r}, received {received!r}"
        )

    def test_adapter_initialization(self) -> None:
        """The adapter can be created with a valid config."""
        self.check_adapter(self.create_adapter())

    def test_data_flow(self) -> None:
        """What goes into the source comes out of the target unchanged."""
        adapter = self.create_adapter()
        data = self.sample_data()
        self.write_source(adapter, data)
        self.assert_data_equal(data, self.read_target(adapter))
