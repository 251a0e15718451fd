"""The component registry: plugin discovery and dispatch through pluggy, timm-style list/create.

Plugins are found through the ``fgav`` entry-point group; fgav's built-in components
come from the module :mod:`fgav.builtin`, registered through the very same hooks.
``FGAV_PLUGINS=a,b`` loads only the entry points named ``a`` and ``b``.

Hooks are called through pluggy (``pm.hook.<name>``), one plugin at a time through a
subset hook caller (:meth:`pluggy.PluginManager.subset_hook_caller`), so that an
``@hookimpl(specname=...)`` implementation is called like any other and a plugin whose
hook raises loses only what that hook gave, never the other plugins' components. Each
kind's hook is called the first time that kind is asked for: building a model calls the
backbone and head hooks only, not every plugin's augmenters and attacks.

A faulty plugin is isolated with a one-line ``RuntimeWarning`` and listed by
``fgav plugins``: a module that fails to import, a misspelled hook (pluggy's
``check_pending``), a hook that raises or returns something other than a list of
classes, a class that is not a subclass of its kind's base class or has no ``name``,
and a name another plugin registered first. fgav's built-ins are registered first, so
they keep their names.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pluggy
from foolbox.attacks.base import Attack

from fgav.core import hookspecs
from fgav.core.errors import FgavError, UnknownComponentError
from fgav.core.interfaces import Augmenter, AuxHead, Backbone
from fgav.core.options import check_attack_options, follow_steps
from fgav.core.version import __version__

ENTRY_POINT_GROUP = "fgav"
# fgav's own components, registered as the plugin "fgav" before any other. It is loaded by
# name, like an entry point, because it sits above everything (it gathers the CLI commands
# too) while the registry sits low: a plain import would make an import cycle.
BUILTIN_PLUGIN = ("fgav", "fgav.builtin")
KINDS: tuple[str, ...] = ("backbone", "head", "augmenter", "attack")
HOOKS: dict[str, str] = {
    "backbone": "fgav_backbones",
    "head": "fgav_heads",
    "augmenter": "fgav_augmenters",
    "attack": "fgav_attacks",
}
BASES: dict[str, type] = {"backbone": Backbone, "head": AuxHead, "augmenter": Augmenter, "attack": Attack}


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


class _Components(dict[str, dict[str, ComponentInfo]]):
    """Kind -> name -> component; a kind's hooks are called when the kind is first looked up."""

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self._registry = registry

    def __missing__(self, kind: str) -> dict[str, ComponentInfo]:
        if kind not in KINDS:
            raise KeyError(kind)
        found: dict[str, ComponentInfo] = {}
        self[kind] = found  # before the hooks run: a hook that looks its own kind up sees no loop
        self._registry._collect(kind, found)
        return found


@dataclass
class Registry:
    """Every component fgav can build, by kind and name, and the plugins that failed."""

    plugins: dict[str, str] = field(default_factory=dict)  # plugin name -> version
    failed: dict[str, str] = field(default_factory=dict)  # plugin name -> error(s)
    manager: pluggy.PluginManager | None = None
    components: dict[str, dict[str, ComponentInfo]] = field(init=False)

    def __post_init__(self) -> None:
        self.components = _Components(self)

    def record_failure(self, plugin: str, error: BaseException | str, *, hook: str | None = None) -> None:
        """Record a plugin's fault with a one-line ``RuntimeWarning``.

        Without ``hook`` the whole plugin is dropped (it failed to import or to
        register); with ``hook`` only what that hook gave is lost.
        """
        if isinstance(error, BaseException):
            text = str(error).strip()
            message = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
        else:
            message = error
        if hook is not None:
            message = f"{hook}: {message}"
            self.failed[plugin] = f"{self.failed[plugin]}; {message}" if plugin in self.failed else message
        else:
            self.failed[plugin] = message
            self.plugins.pop(plugin, None)
            if self.manager is not None and self.manager.has_plugin(plugin):
                self.manager.unregister(name=plugin)
        warnings.warn(f"fgav: plugin {plugin!r} failed to load: {message}", RuntimeWarning, stacklevel=3)

    def hook_callers(self, hook: str) -> Iterator[tuple[str, Callable[..., list[Any]]]]:
        """Each plugin implementing ``hook`` with pluggy's caller for that plugin alone, built-ins first.

        Calling one plugin at a time keeps one plugin's exception from stopping the
        others (pluggy stops a hook call at the first exception).
        """
        pm = self.manager
        assert pm is not None
        caller = getattr(pm.hook, hook)
        implementers = {impl.plugin_name for impl in caller.get_hookimpls()}
        for name in list(self.plugins):
            if name not in implementers:
                continue
            others = [pm.get_plugin(n) for n in implementers if n != name]
            yield name, pm.subset_hook_caller(hook, remove_plugins=others)

    def _collect(self, kind: str, found: dict[str, ComponentInfo]) -> None:
        hook = HOOKS[kind]
        for plugin, call in self.hook_callers(hook):
            try:
                results = call()
                classes = [cls for result in results for cls in _as_list(result)]
            except Exception as exc:  # a broken plugin must never break fgav
                self.record_failure(plugin, exc, hook=hook)
                continue
            for cls in classes:
                problem = _check_class(kind, cls, found)
                if problem:
                    self.record_failure(plugin, problem, hook=hook)
                    continue
                name = cls.name
                found[name] = ComponentInfo(kind, name, cls, plugin, self.plugins.get(plugin, "?"))


def _as_list(result: Any) -> list[Any]:
    if not isinstance(result, (list, tuple)):
        raise TypeError(f"returned a {type(result).__name__}, not a list of classes")
    return list(result)


def _check_class(kind: str, cls: Any, found: dict[str, ComponentInfo]) -> str:
    """Why a hook's item cannot be registered ("" when it can)."""
    base = BASES[kind]
    if not isinstance(cls, type):
        return f"{cls!r} is not a class; {kind} hooks return {base.__name__} subclasses"
    qualname = f"{cls.__module__}.{cls.__qualname__}"
    if not issubclass(cls, base):
        return f"{qualname} is not a subclass of {base.__module__}.{base.__qualname__}: {kind} left out"
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        return f"{kind} class {qualname} has no name: left out"
    known = found.get(name)
    if known is not None and known.cls is not cls:
        return (f"the {kind} {name!r} of {qualname} clashes with {known.plugin!r}'s "
                f"({known.cls.__module__}.{known.cls.__qualname__}): left out; {known.plugin!r} keeps the name")
    return ""


_registry: Registry | None = None


def _version_of(dist: importlib.metadata.Distribution | None) -> str:
    return dist.version if dist is not None else "unknown"


def load_plugins(*, reload: bool = False) -> Registry:
    """Register fgav's built-ins and every installed plugin with pluggy, once per process.

    A faulty plugin is recorded with its error and a one-line warning (see the module
    docstring); everything else still works. Components are collected per kind when
    first asked for (:func:`components`).
    """
    global _registry
    if _registry is not None and not reload:
        return _registry
    pm = pluggy.PluginManager("fgav")
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    builtin_name, builtin_module = BUILTIN_PLUGIN
    pm.register(importlib.import_module(builtin_module), name=builtin_name)
    reg.plugins[builtin_name] = __version__
    wanted = os.environ.get("FGAV_PLUGINS")
    allowed = {w.strip() for w in wanted.split(",") if w.strip()} if wanted is not None else None
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allowed is not None and ep.name not in allowed:
            continue
        if ep.name in reg.plugins or ep.name in reg.failed:
            continue  # the same distribution seen twice on sys.path
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must never break fgav
            reg.record_failure(ep.name, exc)
            continue
        reg.plugins[ep.name] = _version_of(getattr(ep, "dist", None))
    while True:  # a hookimpl without a hookspec (a misspelled hook): that plugin's failure
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or "?"
            reg.record_failure(name, FgavError(str(exc).replace(repr(exc.plugin), repr(name))))
    _registry = reg
    return reg


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
    :mod:`fgav.core.options`); where ``steps`` is given without a step size, the step
    size follows the steps (:func:`fgav.core.options.follow_steps`).

    Raises:
        FgavError: an unknown name or option, or an option of the wrong type or out of
            range; one line naming the attack, the option and what is allowed.
    """
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

