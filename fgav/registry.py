"""The component registry: plugin discovery through pluggy and timm-style list/create calls.

Plugins are found through the ``fgav`` entry-point group; fgav's built-in components
come from the module :mod:`fgav.builtin`, registered through the very same hooks.
``FGAV_PLUGINS=a,b`` loads only the entry points named ``a`` and ``b``.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pluggy

from fgav import hookspecs
from fgav.errors import FgavError, NameClashError, UnknownComponentError

if TYPE_CHECKING:  # the interfaces import torch; the registry must stay light and cycle-free
    from foolbox.attacks.base import Attack

    from fgav.interfaces import AuxHead, Augmenter, Backbone

ENTRY_POINT_GROUP = "fgav"
KINDS: tuple[str, ...] = ("backbone", "head", "augmenter", "attack")
_HOOKS = {
    "backbone": "fgav_backbones",
    "head": "fgav_heads",
    "augmenter": "fgav_augmenters",
    "attack": "fgav_attacks",
}


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component: its kind, name, class and the plugin that gave it."""

    kind: str
    name: str
    cls: type
    plugin: str
    version: str

    @property
    def summary(self) -> str:
        """The first line of the class docstring."""
        doc = (self.cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


@dataclass
class Registry:
    """Every component fgav can build, by kind and name, and the plugins that failed."""

    components: dict[str, dict[str, ComponentInfo]] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)  # plugin name -> version
    failed: dict[str, str] = field(default_factory=dict)  # plugin name -> error
    manager: pluggy.PluginManager | None = None


_registry: Registry | None = None


def _version_of(dist: importlib.metadata.Distribution | None) -> str:
    return dist.version if dist is not None else "unknown"


def load_plugins(*, reload: bool = False) -> Registry:
    """Load fgav's built-ins and every installed plugin, once per process.

    A plugin that fails to import, or whose hooks raise, is recorded with its error
    and a one-line warning; everything else still works.

    Raises:
        NameClashError: two plugins register components of one kind under one name.
    """
    global _registry
    if _registry is not None and not reload:
        return _registry
    import fgav
    from fgav import builtin

    pm = pluggy.PluginManager("fgav")
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    pm.register(builtin, name="fgav")
    reg.plugins["fgav"] = fgav.__version__
    wanted = os.environ.get("FGAV_PLUGINS")
    allowed = {w.strip() for w in wanted.split(",") if w.strip()} if wanted is not None else None
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allowed is not None and ep.name not in allowed:
            continue
        if ep.name in reg.plugins:
            continue  # the same distribution seen twice on sys.path
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must never break fgav
            _fail(reg, ep.name, exc)
            continue
        reg.plugins[ep.name] = _version_of(getattr(ep, "dist", None))
    for kind, hook in _HOOKS.items():
        reg.components[kind] = {}
        for plugin_name in list(reg.plugins):
            plugin = pm.get_plugin(plugin_name)
            impl = getattr(plugin, hook, None)
            if impl is None:
                continue
            try:
                classes = list(impl() or [])
            except Exception as exc:
                _fail(reg, plugin_name, exc, hook=hook)
                continue
            for cls in classes:
                _add(reg, kind, cls, plugin_name)
    _registry = reg
    return reg


def _fail(reg: Registry, plugin: str, exc: BaseException, *, hook: str | None = None) -> None:
    """Record a plugin's failure: a failed import drops the plugin, a failed hook only that hook."""
    message = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    if hook is not None:
        message = f"{hook}: {message}"
        reg.failed[plugin] = f"{reg.failed[plugin]}; {message}" if plugin in reg.failed else message
    else:
        reg.failed[plugin] = message
        reg.plugins.pop(plugin, None)
    warnings.warn(f"fgav: plugin {plugin!r} failed to load: {message}", RuntimeWarning, stacklevel=3)


def _add(reg: Registry, kind: str, cls: type, plugin: str) -> None:
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        _fail(reg, plugin, TypeError(f"{kind} class {cls.__qualname__} has no name"), hook=_HOOKS[kind])
        return
    known = reg.components[kind].get(name)
    if known is not None and known.cls is not cls:
        raise NameClashError(
            f"two plugins register the {kind} {name!r}: {known.plugin!r} "
            f"({known.cls.__module__}.{known.cls.__qualname__}) and {plugin!r} "
            f"({cls.__module__}.{cls.__qualname__}); uninstall one or restrict FGAV_PLUGINS"
        )
    reg.components[kind][name] = ComponentInfo(kind, name, cls, plugin, reg.plugins.get(plugin, "?"))


def components(kind: str) -> dict[str, ComponentInfo]:
    """Every registered component of one kind, by name."""
    if kind not in KINDS:
        raise FgavError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")
    return load_plugins().components[kind]


def _list(kind: str, pattern: str) -> list[str]:
    return sorted(n for n in components(kind) if fnmatch.fnmatch(n, pattern))


def _get(kind: str, name: str) -> type:
    found = components(kind).get(name)
    if found is None:
        raise UnknownComponentError(kind, name, components(kind))
    return found.cls


def list_backbones(pattern: str = "*") -> list[str]:
    """Names of the registered backbones matching an fnmatch pattern."""
    return _list("backbone", pattern)


def list_heads(pattern: str = "*") -> list[str]:
    """Names of the registered auxiliary heads matching an fnmatch pattern."""
    return _list("head", pattern)


def list_augmenters(pattern: str = "*") -> list[str]:
    """Names of the registered augmenters matching an fnmatch pattern."""
    return _list("augmenter", pattern)


def list_attacks(pattern: str = "*") -> list[str]:
    """Names of the registered attacks matching an fnmatch pattern."""
    return _list("attack", pattern)


# The registry stores plain classes; the hookspecs' contract makes each kind's classes
# subclasses of its base class, hence the casts.
def get_backbone(name: str) -> type[Backbone]:
    """The backbone class registered as ``name`` (``timm:<model>`` for any timm model)."""
    if name.startswith("timm:"):
        return cast("type[Backbone]", _get("backbone", "timm"))
    return cast("type[Backbone]", _get("backbone", name))


def get_head(name: str) -> type[AuxHead]:
    """The auxiliary head class registered as ``name``."""
    return cast("type[AuxHead]", _get("head", name))


def get_augmenter(name: str) -> type[Augmenter]:
    """The augmenter class registered as ``name``."""
    return cast("type[Augmenter]", _get("augmenter", name))


def get_attack(name: str) -> type[Attack]:
    """The Foolbox attack class registered as ``name``."""
    return cast("type[Attack]", _get("attack", name))


def create_backbone(name: str, **options: Any) -> Backbone:
    """Build a backbone by name; ``timm:<model>`` builds any timm model."""
    cls = get_backbone(name)
    if name.startswith("timm:"):
        options = {"model_name": name.split(":", 1)[1], **options}
    return cast("Backbone", _construct("backbone", name, cls, (), options))


def create_head(name: str, in_channels: int, **options: Any) -> AuxHead:
    """Build an auxiliary head by name for a backbone with ``in_channels`` channels."""
    return cast("AuxHead", _construct("head", name, get_head(name), (in_channels,), options))


def create_augmenter(name: str, **options: Any) -> Augmenter:
    """Build an augmenter by name."""
    return cast("Augmenter", _construct("augmenter", name, get_augmenter(name), (), options))


def create_attack(name: str, **options: Any) -> Attack:
    """Build a Foolbox attack by name with keyword options (``--attack-option k=v``).

    Each option is checked against the attack's signature (its type and range, see
    :mod:`fgav.attacks.options`); where ``steps`` is given without a step size, the step
    size follows the steps (:func:`fgav.attacks.options.follow_steps`).

    Raises:
        FgavError: an unknown name or option, or an option of the wrong type or out of
            range; one line naming the attack, the option and what is allowed.
    """
    # Imported here: fgav.attacks.options imports Foolbox and torch, which the registry keeps out.
    from fgav.attacks.options import check_attack_options, follow_steps

    cls = get_attack(name)
    options = follow_steps(cls, check_attack_options(name, cls, options))
    return cast("Attack", _construct("attack", name, cls, (), options))


def _construct(kind: str, name: str, cls: type, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    try:
        return cls(*args, **options)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc) or "positional argument" in str(exc):
            raise FgavError(f"{kind} {name!r}: {exc}") from exc
        raise
    except ValueError as exc:  # an option out of range (e.g. --attack-option sparse.k=-1)
        raise FgavError(f"{kind} {name!r}: {exc}".splitlines()[0]) from exc


def plugin_of(obj: Any) -> str | None:
    """The plugin that registered a component class (or an instance of one), if any."""
    cls = obj if isinstance(obj, type) else type(obj)
    for kind in KINDS:
        for info in components(kind).values():
            if info.cls is cls:
                return info.plugin
    return None

