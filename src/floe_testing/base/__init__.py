"""Base classes for integration, plugin-compliance and adapter tests."""

from floe_testing.base.adapter import AdapterTestBase
from floe_testing.base.integration import IntegrationTestBase
from floe_testing.base.plugin_compliance import PluginTestBase
from floe_testing.errors import CleanupError

__all__ = ["AdapterTestBase", "CleanupError", "IntegrationTestBase", "PluginTestBase"]
