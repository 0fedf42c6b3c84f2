"""How a setting is declared: on the dataclass field that holds it, with its default and documentation.

The settings classes are walked field by field, so the list of settings, the loading, the
``app.config`` mirror and the README's table all follow from the one declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import is_dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import get_type_hints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from authserver.settings.validation import ConfigError


@dataclass(frozen=True)
class Setting:
    """One ``AUTHSERVER_*`` variable: its type, default and the README's documentation of it."""

    name: str  # without the prefix
    kind: type  # int or str
    default: Any
    doc: str
    shown_default: str | None = None  # the README's default column, where the bare default would mislead

    @property
    def variable(self) -> str:
        return f"AUTHSERVER_{self.name}"

    @property
    def shown(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        return "none" if self.default is None else f"`{self.default}`"

    def convert(self, raw: str) -> Any:
        """The value of the environment variable's text ``raw``."""
        if self.kind is int:
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(f"{self.variable} must be an integer, got {raw!r}") from None
        return raw


def setting(name: str, kind: type, default: Any, doc: str, shown: str | None = None, *, secret: bool = False) -> Any:
    """A dataclass field holding the setting ``AUTHSERVER_<name>``."""
    # A secret stays out of repr(), so a logged or printed Settings never shows it.
    return field(repr=not secret, metadata={"setting": Setting(name, kind, default, doc, shown)})


def _declared(cls: type) -> Iterator[tuple[str, Setting | type]]:
    """``(field name, its Setting or its sub-settings class)``, in declaration order."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        if "setting" in f.metadata:
            yield f.name, f.metadata["setting"]
        elif is_dataclass(hints[f.name]):
            yield f.name, hints[f.name]


def declared_settings(cls: type) -> Iterator[Setting]:
    """Every setting of ``cls`` and its sub-settings, depth first, in declaration order."""
    for _name, item in _declared(cls):
        yield from declared_settings(item) if isinstance(item, type) else (item,)


def values_of(obj: Any) -> Iterator[tuple[str, Any]]:
    """``(setting name, value)`` of every setting held by ``obj`` and its sub-settings."""
    for name, item in _declared(type(obj)):
        value = getattr(obj, name)
        yield from values_of(value) if isinstance(item, type) else ((item.name, value),)


_D = TypeVar("_D", bound="DataclassInstance")


def build(cls: type[_D], values: Mapping[str, Any], **derived: Any) -> _D:
    """``cls`` with each declared field from ``values`` (keyed by setting name) and the rest from ``derived``."""
    kwargs = {
        f.name: values[f.metadata["setting"].name] if "setting" in f.metadata else derived[f.name]
        for f in fields(cls)
        if "setting" in f.metadata or f.name in derived
    }
    return cls(**kwargs)
