"""``PluginTestBase``: a plugin is discoverable, declares metadata, and implements its ABC."""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from floe_testing.base.integration import IntegrationTestBase
from floe_testing.errors import fail


class PluginTestBase(IntegrationTestBase):
    """Compliance tests for one plugin of a user's plugin system.

    Set ``plugin_type`` and ``plugin_name``; the entry-point group defaults to
    ``floe.{plugin_type}s`` and is overridable, as are the ABC the plugin must implement
    (``plugin_abc``), the metadata model (``metadata_model``) and the attribute holding the
    metadata (``metadata_attribute``).
    """

    plugin_type: ClassVar[str]
    plugin_name: ClassVar[str]
    entry_point_group: ClassVar[str | None] = None
    plugin_abc: ClassVar[type[Any] | None] = None
    metadata_model: ClassVar[type[BaseModel] | None] = None
    metadata_attribute: ClassVar[str] = "metadata"

    @classmethod
    def group(cls) -> str:
        """The entry-point group searched for the plugin."""
        cls._require_declared()
        return cls.entry_point_group or f"floe.{cls.plugin_type}s"

    @classmethod
    def _require_declared(cls) -> None:
        """``plugin_type`` and ``plugin_name`` are the class's to declare: say so, by name."""
        missing = [name for name in ("plugin_type", "plugin_name")
                   if not isinstance(getattr(cls, name, None), str) or not getattr(cls, name)]
        if missing:
            fail(f"{cls.__name__} must declare {' and '.join(missing)} as class attributes "
                 "(e.g. plugin_type = \"compute\", plugin_name = \"duckdb\"); PluginTestBase "
                 "finds the plugin by them.")

    def entry_point(self) -> EntryPoint:
        """The plugin's entry point; fails naming the group and what is registered there."""
        found = entry_points(group=self.group())
        for ep in found:
            if ep.name == self.plugin_name:
                return ep
        fail(
            f"No entry point {self.plugin_name!r} in group {self.group()!r}; registered there: "
            f"{sorted(ep.name for ep in found) or 'nothing'}. Declare it in your "
            f'pyproject.toml under [project.entry-points."{self.group()}"] and reinstall.')

    def load_plugin(self) -> Any:
        """The object the entry point refers to (usually the plugin class)."""
        ep = self.entry_point()
        try:
            return ep.load()
        except Exception as exc:  # noqa: BLE001 - report any import failure with its cause
            fail(f"Entry point {ep.name} = {ep.value!r} failed to load: {exc!r}")

    def test_entry_point_discovery(self) -> None:
        """The plugin is registered under its group and its target imports."""
        assert self.load_plugin() is not None

    def test_plugin_metadata(self) -> None:
        """The plugin declares metadata that validates against ``metadata_model``."""
        plugin = self.load_plugin()
        metadata = getattr(plugin, self.metadata_attribute, None)
        assert metadata is not None, (
            f"{plugin!r} declares no {self.metadata_attribute!r} attribute"
        )
        if self.metadata_model is not None:
            try:
                validated = self.metadata_model.model_validate(
                    metadata, from_attributes=not isinstance(metadata, dict)
                )
            except ValidationError as exc:
                fail(f"{plugin!r}.{self.metadata_attribute} is invalid:\n{exc}")
            declared_name = getattr(validated, "name", self.plugin_name)
            assert declared_name == self.plugin_name, (
                f"metadata name {declared_name!r} differs from entry point {self.plugin_name!r}"
            )

    def test_abc_compliance(self) -> None:
        """The plugin subclasses its ABC and leaves no abstract method unimplemented."""
        plugin = self.load_plugin()
        assert inspect.isclass(plugin), f"entry point must name a class, got {plugin!r}"
        if self.plugin_abc is not None:
            assert issubclass(plugin, self.plugin_abc), (
                f"{plugin.__qualname__} does not subclass {self.plugin_abc.__qualname__}"
            )
        missing = sorted(getattr(plugin, "__abstractmethods__", ()))
        assert not missing, f"{plugin.__qualname__} does not implement: {', '.join(missing)}"
