"""One host's templar, and the record of the variables a resolution read through it.

This is the only module that knows how each ansible-core line templates (2.15 to 2.19):

- up to 2.18 the templar looks every name up in the mapping it is handed, so a dict that notes each
  lookup is the record;
- from 2.19 (data tagging) the templar accepts only plain dicts and its own lazy containers, and
  copies a plain dict into a new lazy one for each template. The host's variables are handed to it
  as one lazy container that lives as long as the templar: a variable is rendered the first time a
  template reads it (and kept rendered, as ansible-core keeps it for the rest of that template), so
  the variables read are the entries that are no longer waiting to be rendered. 2.19 renders only
  strings trusted as templates: the variables ansible-core loaded are; the resolver's own
  expressions are marked with `expression()`.

Either way the record holds the names defined for the host that a template, or the resolver itself,
read. A name that is not defined is not recorded: the resolver's profiles keep hosts that define
different sets of identity variables apart, so such a read gives every host of a profile the same
answer.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any, Iterator, Mapping, Optional

from kubespray_verify.resolve import ansible_env  # noqa: F401  (must precede ansible imports)

from ansible.release import __version__ as ANSIBLE_CORE_VERSION  # noqa: E402
from ansible.template import Templar  # noqa: E402

ANSIBLE_CORE = tuple(int(part) for part in ANSIBLE_CORE_VERSION.split(".")[:2])
LAZY_TEMPLATING = ANSIBLE_CORE >= (2, 19)

if LAZY_TEMPLATING:
    from ansible.template import trust_as_template as _trust  # noqa: E402
    from ansible._internal._templating._lazy_containers import (  # noqa: E402
        _AnsibleLazyTemplateDict, _LazyValue, _LazyValueSource,
    )
    from ansible._internal._templating._utils import LazyOptions  # noqa: E402
else:
    def _trust(text: str) -> str:
        return text


def expression(text: str) -> str:
    """A template the resolver writes itself (`{{ image_arch }}`), trusted as ansible-core requires."""
    return _trust(text)


class VariablesRead(Mapping):
    """A host's variables as the resolver reads them raw, and every name read so far.

    Reading a variable here (`name in vars`, `vars[name]`, `vars.get(name)`) records it, as a
    template's lookup does; `raw` reads without recording.
    """

    def __init__(self, variables: Mapping, read_by_templar):
        self._variables = variables
        self._read_by_templar = read_by_templar  # () -> names the templar read
        self._read: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        self._read.add(name)
        return self._variables[name]

    def __contains__(self, name: object) -> bool:
        self._read.add(name)  # type: ignore[arg-type]
        return name in self._variables

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def raw(self, name: str, default: Any = None) -> Any:
        return self._variables.get(name, default)

    @property
    def seen(self) -> frozenset[str]:
        """The names defined for the host that were read."""
        return frozenset(n for n in self._read | set(self._read_by_templar()) if n in self._variables)


def templar(loader, variables: Mapping) -> tuple[Templar, VariablesRead]:
    """A templar over `variables` (one host's, as the variable manager gives them) and their record."""
    if LAZY_TEMPLATING:
        return _lazy_templar(loader, variables)
    recording = _RecordingVars(variables)
    return Templar(loader=loader, variables=recording), VariablesRead(variables, lambda: recording.seen)


def _lazy_templar(loader, variables: Mapping) -> tuple[Templar, VariablesRead]:
    templar_ = Templar(loader=loader)
    engine = templar_._engine
    lazy = _AnsibleLazyTemplateDict(_LazyValueSource(
        source=((name, _LazyValue(value)) for name, value in variables.items()),
        templar=engine, lazy_options=LazyOptions.DEFAULT,
    ))
    templar_.available_variables = lazy

    def rendered() -> list[str]:
        return [name for name, value in dict.items(lazy) if type(value) is not _LazyValue]

    return templar_, VariablesRead(variables, rendered)


class _RecordingVars(dict):
    """Up to ansible-core 2.18: the mapping handed to the templar, which notes every name looked up."""

    def __init__(self, data: Mapping):
        super().__init__(data)
        self.seen: set[str] = set()

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)


# How each ansible-core line says that a plugin named by its collection (`ansible.utils.ipaddr`) is not there:
# up to 2.18 'Could not load "NAME": ... unable to locate collection ...' or 'lookup plugin (NAME) not found',
# from 2.19 "No filter named 'NAME'", "No test named 'NAME'", "The lookup plugin 'NAME' was not found".
_FQCN = r"[\w]+\.[\w]+\.[\w]+"
_PLUGIN_NOT_FOUND = re.compile(
    rf"""Could not load "(?P<a>{_FQCN})"|No (?:filter|test) named '(?P<b>{_FQCN})'"""
    rf"""|lookup plugin \((?P<c>{_FQCN})\) not found|lookup plugin '(?P<d>{_FQCN})' was not found""")


def missing_collection(message: str) -> Optional[str]:
    """What to say when `message` (a templating error) comes from a plugin of a collection that is not
    installed: which collection, and how to install it. None for any other error."""
    for match in _PLUGIN_NOT_FOUND.finditer(message):
        name = next(group for group in match.groups() if group)
        collection = name.rsplit(".", 1)[0]
        if collection == "ansible.builtin" or collection_installed(collection):
            continue
        return (f"{name} needs the {collection} collection, which is not installed beside this ansible-core: "
                f"install the `ansible` package your Kubespray's requirements.txt names (it brings {collection}), "
                f"or run `ansible-galaxy collection install {collection}`")
    return None


def collection_installed(collection: str) -> bool:
    """Whether ansible-core finds the collection (in its collections paths or beside it in site-packages)."""
    try:
        return importlib.util.find_spec(f"ansible_collections.{collection}") is not None
    except (ImportError, ValueError):
        return False
