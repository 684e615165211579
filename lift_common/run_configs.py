"""Reading a run's ``config.yml`` without running code that the file names.

nerfstudio writes ``config.yml`` with ``yaml.dump`` and reads it back with ``yaml.Loader``, which builds any Python
object a tag names: a file whose whole content is ``!!python/object/apply:os.system ["..."]`` runs the command while
it is read. A config of a run holds far less: config dataclasses of nerfstudio and of the installed methods,
``pathlib`` paths, tuples, enums of those packages (``EventName``), references to their classes (``_target``) and
to torch's (``torch.optim.Adam``), and generic aliases of them (``VanillaDataManager[SDFDataset]``).
:class:`RunConfigLoader` builds exactly that, and refuses any other tag before it imports or constructs anything.

:func:`protect_nerfstudio_config_readers` gives nerfstudio's own readers (``eval_setup`` behind ``ns-export``,
``ns-eval``, ``ns-render`` and ``ns-viewer``; ``ns-train --load-config``) the same loader. Every ``ns-*`` command
imports the installed methods (ours among them) before it reads a config, so the protection is in place by then.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import operator
import os
import pathlib
import sys
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from lift_common.errors import UserInputError

PYTHON_TAG = "tag:yaml.org,2002:python/"
CONFIG_PACKAGES = ("nerfstudio", "neurallift_ns", "lolnerf_ns", "lift_common", "lift_testing")
"""Packages whose config dataclasses, enums and classes a run's config.yml may name, besides installed methods'."""
EXTRA_PACKAGES_VARIABLE = "LIFT_CONFIG_PACKAGES"
"""Environment variable naming more top-level packages (comma-separated) whose config classes a run may name: your own
guidance or dataparser outside an installed method's package. A config file cannot set it."""
CLASS_REFERENCE_PACKAGES = ("torch",)
"""Packages whose classes (not functions) a config may name, as nerfstudio's optimizer configs name torch.optim's."""
FUNCTION_REFERENCES = ("nerfstudio.data.utils.nerfstudio_collate.nerfstudio_collate",)
"""The functions a config may name: the collate function of nerfstudio's datamanager configs, the only function
any of nerfstudio's own methods' configs names. Other functions are refused: nerfstudio has some that run commands."""
PATH_CLASSES = ("PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath", "Path")


class RefusedTag(yaml.constructor.ConstructorError):
    """A tag that a run's config does not hold, refused before anything it names was imported or built."""

    def __init__(self, tag: str, node: yaml.Node) -> None:
        super().__init__(None, None, f"refused tag {tag}", node.start_mark)
        self.tag = tag


def installed_method_packages() -> tuple[str, ...]:
    """The top-level packages of every installed nerfstudio method and dataparser (read from package metadata,
    nothing imported), so that other plugins' runs load as before, and those named by ``LIFT_CONFIG_PACKAGES``."""
    extra = (name.strip() for name in os.environ.get(EXTRA_PACKAGES_VARIABLE, "").split(","))
    return tuple(sorted({*_entry_point_packages(), *(name for name in extra if name)}))


@lru_cache(maxsize=1)
def _entry_point_packages() -> frozenset[str]:
    from importlib.metadata import entry_points

    packages = set(CONFIG_PACKAGES)
    for group in ("nerfstudio.method_configs", "nerfstudio.dataparser_configs"):
        for entry in entry_points(group=group):
            packages.add(entry.value.split(":")[0].split(".")[0].strip())
    return frozenset(packages)


def _in_packages(dotted_name: str, packages: tuple[str, ...]) -> bool:
    return dotted_name.split(".")[0] in packages


def _python_object(dotted_name: str) -> Any:
    """The object a tag names, its module imported; only called once the name's package has been allowed."""
    module_name, _, object_name = dotted_name.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), object_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise yaml.constructor.ConstructorError(None, None, f"cannot find {dotted_name} ({error})") from None


class RunConfigLoader(yaml.SafeLoader):
    """YAML's safe loader plus the Python tags that nerfstudio's ``yaml.dump`` of a ``TrainerConfig`` writes."""

    packages: tuple[str, ...] = CONFIG_PACKAGES

    def _allowed_class(self, suffix: str, node: yaml.Node, kind: str, packages: tuple[str, ...]) -> type:
        tag = f"!!python/{kind}:{suffix}"
        if not _in_packages(suffix, packages):
            raise RefusedTag(tag, node)
        found = _python_object(suffix)
        if not inspect.isclass(found):
            raise RefusedTag(tag, node)
        return found

    def construct_dataclass(self, suffix: str, node: yaml.Node) -> Any:
        """``!!python/object:package.Config {fields}``: a config dataclass, its fields set as yaml.Loader sets them."""
        cls = self._allowed_class(suffix, node, "object", self.packages)
        if not dataclasses.is_dataclass(cls):
            raise RefusedTag(f"!!python/object:{suffix}", node)
        instance = cls.__new__(cls)
        yield instance
        instance.__dict__.update(self.construct_mapping(node, deep=True))

    def construct_class_reference(self, suffix: str, node: yaml.Node) -> Any:
        """``!!python/name:package.Class``: a class (a model's ``_target``, torch's ``Adam``); of functions, only
        :data:`FUNCTION_REFERENCES`."""
        if suffix in FUNCTION_REFERENCES:
            return _python_object(suffix)
        return self._allowed_class(suffix, node, "name", self.packages + CLASS_REFERENCE_PACKAGES)

    def construct_applied(self, suffix: str, node: yaml.Node) -> Any:
        """``!!python/object/apply:`` of a path class, of an enum of the config packages (by value), or of
        ``operator.getitem`` on a generic config class (``VanillaDataManager[SDFDataset]``)."""
        tag = f"!!python/object/apply:{suffix}"
        if not isinstance(node, yaml.SequenceNode):
            raise RefusedTag(tag, node)  # the mapping form can also set state and items: configs never use it
        module_name, _, name = suffix.rpartition(".")
        if module_name == "pathlib" and name in PATH_CLASSES:
            parts = self.construct_sequence(node, deep=True)
            if not all(isinstance(part, str) for part in parts):
                raise RefusedTag(tag, node)
            return getattr(pathlib, name)(*parts)
        if suffix in ("_operator.getitem", "operator.getitem"):
            generic, *arguments = self.construct_sequence(node, deep=True)
            allowed = inspect.isclass(generic) and _in_packages(generic.__module__, self.packages)
            if not allowed or len(arguments) != 1:
                raise RefusedTag(tag, node)
            return operator.getitem(generic, arguments[0])
        cls = self._allowed_class(suffix, node, "object/apply", self.packages)
        if not issubclass(cls, enum.Enum):
            raise RefusedTag(tag, node)
        return cls(*self.construct_sequence(node, deep=True))

    def construct_tuple(self, node: yaml.Node) -> tuple:
        return tuple(self.construct_sequence(node, deep=True))

    def refuse(self, suffix: str, node: yaml.Node) -> None:
        raise RefusedTag(f"!!python/{suffix}", node)

    def refuse_undefined(self, node: yaml.Node) -> None:
        raise RefusedTag(str(node.tag), node)


RunConfigLoader.add_constructor(f"{PYTHON_TAG}tuple", RunConfigLoader.construct_tuple)
RunConfigLoader.add_multi_constructor(f"{PYTHON_TAG}object:", RunConfigLoader.construct_dataclass)
RunConfigLoader.add_multi_constructor(f"{PYTHON_TAG}object/apply:", RunConfigLoader.construct_applied)
RunConfigLoader.add_multi_constructor(f"{PYTHON_TAG}name:", RunConfigLoader.construct_class_reference)
# Registered last: multi-constructors are tried in order, so this catches every other Python tag (object/new, module).
RunConfigLoader.add_multi_constructor(PYTHON_TAG, RunConfigLoader.refuse)
RunConfigLoader.add_constructor(None, RunConfigLoader.refuse_undefined)


def parse_run_config(text: str, source: Path | str, packages: tuple[str, ...] = CONFIG_PACKAGES) -> Any:
    """The object a run's config.yml text describes; a tag outside what a run's config holds, or text that is not
    YAML, raises :class:`UserInputError` naming ``source``."""
    loader_class = type("RunConfigLoaderFor", (RunConfigLoader,), {"packages": packages})
    loader = loader_class(text)
    try:
        return loader.get_single_data()
    except RefusedTag as refused:
        raise UserInputError(
            f"{source} was not loaded: line {refused.problem_mark.line + 1} holds {refused.tag}, which a run's "
            "config.yml does not hold (it could run code). Open only runs whose config.yml ns-train wrote."
        ) from None
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise UserInputError(f"{source} is not a readable config.yml ({detail}).") from None
    finally:
        loader.dispose()


def read_run_config(config_path: Path) -> Any:
    """A run's config.yml, read with :class:`RunConfigLoader`; a missing file is one message naming it."""
    config_path = Path(config_path)
    if not config_path.is_file():
        raise UserInputError(
            f"{config_path} does not exist. Pass the config.yml that ns-train wrote "
            "(outputs/<experiment>/<method>/<timestamp>/config.yml) with --load-config."
        )
    return parse_run_config(config_path.read_text(errors="replace"), config_path, installed_method_packages())


def protect_nerfstudio_config_readers() -> None:
    """Make nerfstudio's own run-config readers (``yaml.load(text, Loader=yaml.Loader)`` in nerfstudio's modules)
    use :class:`RunConfigLoader`, allowing every installed method's package. Other callers of ``yaml.load`` are
    untouched. Idempotent."""
    if getattr(yaml.load, "protects_run_configs", False):
        return
    original_load = yaml.load

    def load(stream: Any, Loader: Any = None) -> Any:  # noqa: N803 (yaml.load's own parameter name)
        caller = sys._getframe(1)
        if Loader in (yaml.Loader, yaml.UnsafeLoader) and caller.f_globals.get("__name__", "").startswith(
            "nerfstudio."
        ):
            text = stream if isinstance(stream, str) else stream.read()
            return parse_run_config(text, _config_file_read_by(caller), installed_method_packages())
        return original_load(stream, Loader)

    load.protects_run_configs = True  # type: ignore[attr-defined]
    load.__doc__ = original_load.__doc__
    yaml.load = load


def _config_file_read_by(frame: FrameType) -> Path | str:
    """The config file a nerfstudio reader is reading: ``eval_setup``'s ``config_path``, ``ns-train``'s
    ``--load-config``."""
    config_path = frame.f_locals.get("config_path")
    if config_path is None:
        config_path = getattr(frame.f_locals.get("config"), "load_config", None)
    return config_path if config_path is not None else "The config.yml"
