"""A pytest plugin for mutmut's first run of the suite, which links each test to the product's
functions it ran (a mutant of a function is then tried against those tests only).

mutmut links a function to the test during which it ran. A result computed once and shared
would link only to the first test that asked for it: a module- or session-scoped fixture (the
stacks of tests/test_stacks.py), or a test helper under `functools.cache` (tests/program.py's
runs of the program). Every other test that judges that result would never be run against a
mutant, and the mutants it would kill would count as survivors. This plugin links what ran
while such a result was computed to every test that uses it.

Loaded by `pytest_add_cli_args` in pyproject.toml's `[tool.mutmut]`; outside mutmut's stats run
nothing records hits, and it changes nothing.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Generator, Hashable
from typing import Any

import pytest
from mutmut.state import state

_open: list[set[str]] = []  # the hits of each shared result being computed now
_hits: dict[Hashable, set[str]] = {}  # what ran while each shared result was computed
_used: set[Hashable] = set()  # the cached calls the current test made


class _Hits(set[str]):
    """mutmut's set of the functions hit by the current test, also adding each hit to every
    shared result being computed."""

    def add(self, name: str) -> None:
        super().add(name)
        for scope in _open:
            scope.add(name)


def _computing(key: Hashable) -> set[str]:
    scope: set[str] = set()
    _open.append(scope)
    _hits.setdefault(key, set())
    return scope


def _computed(key: Hashable, scope: set[str], *, keep: bool = True) -> None:
    # By identity: two scopes with the same hits are equal sets.
    del _open[next(i for i, open_scope in enumerate(_open) if open_scope is scope)]
    if keep:
        _hits[key] |= scope


def pytest_configure() -> None:
    state()._stats = _Hits(state()._stats)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None]:
    if fixturedef.scope == "function":
        yield
        return
    key = _fixture_key(fixturedef, getattr(request, "param", None))
    scope = _computing(key)
    try:
        yield
    finally:
        _computed(key, scope)


def _fixture_key(fixturedef: pytest.FixtureDef[Any], param: Any) -> Hashable:
    return ("fixture", fixturedef.baseid, fixturedef.argname, repr(param))


def _cached(function: Callable[..., Any]) -> Callable[..., Any]:
    cache_info = function.cache_info  # type: ignore[attr-defined]

    @functools.wraps(function)
    def tracked(*args: Any, **kwargs: Any) -> Any:
        key = ("call", id(function), repr(args), repr(sorted(kwargs.items())))
        _used.add(key)
        misses = cache_info().misses
        scope = _computing(key)
        try:
            return function(*args, **kwargs)
        finally:
            # A cache hit ran nothing: the hits of the call that computed it stand, and belong
            # to whatever shared result is being computed from it now (a fixture).
            _computed(key, scope, keep=cache_info().misses > misses)
            for computing in _open:
                computing |= _hits[key]

    return tracked


def pytest_collection_finish() -> None:
    """Every `functools.cache` function of the tests' modules, tracked wherever it is bound."""
    tracked: dict[int, Callable[..., Any]] = {}
    for name, module in list(sys.modules.items()):
        if name != "tests" and not name.startswith("tests."):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, functools._lru_cache_wrapper):
                if id(value) not in tracked:
                    tracked[id(value)] = _cached(value)
                setattr(module, attribute, tracked[id(value)])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before mutmut reads the test's hits: add those of every shared result it used."""
    used = set(_used)
    _used.clear()
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name in getattr(item, "fixturenames", ()):
        for fixturedef in fixtureinfo.name2fixturedefs.get(name, ()) if fixtureinfo else ():
            if fixturedef.scope != "function":
                used.add(_fixture_key(fixturedef, params.get(name)))
    for key in used:
        state()._stats.update(_hits.get(key, ()))
