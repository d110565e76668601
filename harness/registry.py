"""One registry type for tasks, models and datasets.

Entries come from three places, all resolved lazily so that listing imports nothing heavy:
- a decorator: ``@register_model("whisper-base")`` on a class or factory;
- a lazy string: ``MODELS.add_lazy("paraformer-zh", "models.paraformer:Paraformer")``;
- Python entry points in the group ``cslm_harness.<kind>`` of any installed distribution
  (``name = "pkg.module:Object"``), so another package can add a task or model without editing ours.

A name may also be a pattern family (``whisper-*``): the entry receives the full name.
"""
from __future__ import annotations

import ast
import difflib
import fnmatch
import functools
import importlib
import importlib.util
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator


class UnknownNameError(LookupError):
    """An unknown task/model/dataset name; the message lists close matches and what exists."""


@dataclass(frozen=True)
class Entry:
    name: str            # exact name, or an fnmatch pattern such as ``whisper-*``
    target: str | None   # "module:attr" for lazy entries
    obj: Any = None      # the object itself for decorator entries
    summary: str = ""    # one line shown by ``python -m harness list``
    source: str = "builtin"  # "builtin" or the distribution that declared the entry point

    @property
    def is_pattern(self) -> bool:
        return any(ch in self.name for ch in "*?[")

    def load(self) -> Any:
        if self.obj is not None:
            return self.obj
        module_name, _, attr = self.target.partition(":")
        module = importlib.import_module(module_name)
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


class Registry:
    def __init__(self, kind: str, builtin_module: str | None = None):
        self.kind = kind                      # "task" / "model" / "dataset"
        self._entries: dict[str, Entry] = {}
        # Module whose import registers the built-in lazy entries (kept light: strings only).
        self._builtin_module = builtin_module
        self._loaded_builtins = False
        self._loaded_entry_points = False

    # -- registration -------------------------------------------------------------------
    def register(self, name: str, summary: str = "") -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            self._add(Entry(name=name, target=None, obj=obj, summary=summary or _first_line(obj)))
            return obj
        return decorator

    def add_lazy(self, name: str, target: str, summary: str = "", source: str = "builtin") -> None:
        if ":" not in target:
            raise ValueError(f"lazy {self.kind} entry {name!r}: target {target!r} must be 'module:attr'")
        self._add(Entry(name=name, target=target, summary=summary, source=source))

    def _add(self, entry: Entry) -> None:
        existing = self._entries.get(entry.name)
        if existing is not None and existing.source != entry.source:
            raise ValueError(
                f"{self.kind} {entry.name!r} is registered twice: by {existing.source} and by {entry.source}")
        self._entries[entry.name] = entry

    # -- lookup -------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if not self._loaded_builtins and self._builtin_module:
            self._loaded_builtins = True
            importlib.import_module(self._builtin_module)
        if not self._loaded_entry_points:
            self._loaded_entry_points = True
            for ep in metadata.entry_points(group=f"cslm_harness.{self.kind}s"):
                dist = ep.dist.name if ep.dist is not None else "entry point"
                if ep.name not in self._entries:
                    self._add(Entry(name=ep.name, target=ep.value, summary=f"from {dist}", source=dist))

    def entries(self) -> list[Entry]:
        self._ensure_loaded()
        return sorted(self._entries.values(), key=lambda e: e.name)

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def find(self, name: str) -> Entry:
        """The entry for ``name``: an exact name wins over a pattern family."""
        self._ensure_loaded()
        if name in self._entries:
            return self._entries[name]
        for entry in self._entries.values():
            if entry.is_pattern and fnmatch.fnmatchcase(name, entry.name):
                return entry
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{hint} Available {self.kind}s: {', '.join(self.names())}. "
            f"`python -m harness list {self.kind}s` describes them.")

    def get(self, name: str) -> Any:
        return self.find(name).load()

    def __contains__(self, name: str) -> bool:
        try:
            self.find(name)
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())


# -- what a model can do, read from its source: `list` shows it without importing torch ------------------------

class _Unknown(Exception):
    """An attribute the static reader cannot evaluate (computed at import time)."""


@functools.lru_cache(maxsize=None)
def _module_ast(module: str) -> tuple[ast.Module, str]:
    spec = importlib.util.find_spec(module)  # imports the parent package only (models/: registry strings)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise _Unknown(module)
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8")), module


class _Source:
    """One module's top-level constants, imports and classes, read with ``ast`` (no import)."""

    def __init__(self, module: str):
        tree, self.module = _module_ast(module)
        self.values: dict[str, ast.expr] = {}
        self.imports: dict[str, tuple[str, str]] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        package = module if Path(importlib.util.find_spec(module).origin).name == "__init__.py" else \
            module.rpartition(".")[0]
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.values[node.targets[0].id] = node.value
            elif isinstance(node, ast.ImportFrom):
                source = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else node.module
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node

    def constant(self, name: str) -> Any:
        if name in self.values:
            return self.eval(self.values[name])
        if name in self.imports:
            return _Source(self.imports[name][0]).constant(self.imports[name][1])
        raise _Unknown(name)

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.constant(node.id)
        if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
            return frozenset(self.eval(e) for e in node.elts)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("frozenset", "set") \
                and len(node.args) <= 1 and not node.keywords:
            return frozenset(self.eval(node.args[0])) if node.args else frozenset()
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Sub, ast.BitOr)):
            left, right = self.eval(node.left), self.eval(node.right)
            return left - right if isinstance(node.op, ast.Sub) else left | right
        raise _Unknown(ast.dump(node))

    def resolve(self, name: str) -> tuple["_Source", ast.ClassDef]:
        if name in self.classes:
            return self, self.classes[name]
        if name in self.imports:
            return _Source(self.imports[name][0]).resolve(self.imports[name][1])
        raise _Unknown(name)

    def attribute(self, cls: str, attr: str) -> Any:
        """A class attribute (``capabilities = frozenset({...})``), following the bases."""
        source, node = self.resolve(cls)
        for stmt in node.body:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
                stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None
            if isinstance(target, ast.Name) and target.id == attr:
                return source.eval(stmt.value)
        for base in node.bases:
            if isinstance(base, ast.Name):
                try:
                    return source.attribute(base.id, attr)
                except _Unknown:
                    continue
        raise _Unknown(attr)

    def sets_on_self(self, cls: str, attr: str) -> bool:
        """Whether a method of the class (or a base) assigns ``self.<attr>``: decided per instance."""
        source, node = self.resolve(cls)
        if any(isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr == attr
               and isinstance(n.value, ast.Name) and n.value.id == "self" for n in ast.walk(node)):
            return True
        return any(_quiet(source.sets_on_self, base.id, attr) for base in node.bases if isinstance(base, ast.Name))


def _quiet(fn: Callable[..., bool], *args: Any) -> bool:
    try:
        return fn(*args)
    except _Unknown:
        return False


def model_traits(entry: Entry) -> str:
    """``can: transcribe, respond | languages: zh``: a model entry's capabilities and languages, from the class
    itself when it is loaded, else read from its source (so `python -m harness list` imports no torch)."""
    if entry.obj is not None:
        caps, langs, per_instance, wraps = (getattr(entry.obj, "capabilities", None),
                                            getattr(entry.obj, "languages", None), False, False)
    else:
        module, _, attr = (entry.target or "").partition(":")
        try:
            source = _Source(module)
            caps, langs = source.attribute(attr, "capabilities"), source.attribute(attr, "languages")
            per_instance, wraps = source.sets_on_self(attr, "languages"), source.sets_on_self(attr, "inner")
        except (_Unknown, ImportError, OSError, SyntaxError, ValueError):
            return "can: (not declared in its source; see its documentation)"
    can = "those of inner=MODEL" if wraps else ", ".join(sorted(caps or ())) or "nothing declared"
    lang = "as inner=MODEL" if wraps else (", ".join(sorted(langs)) if langs else "any") + (
        " (narrowed by the checkpoint or voice chosen)" if per_instance and not langs else "")
    return f"can: {can} | languages: {lang}"


def _first_line(obj: Any) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


TASKS = Registry("task", "harness.tasks")
MODELS = Registry("model", "models")
DATASETS = Registry("dataset", "harness.datasets")

register_task = TASKS.register
register_model = MODELS.register
register_dataset = DATASETS.register
