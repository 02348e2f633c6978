"""Strict readers for config values: every problem is collected, none is silently ignored.

A reader never stops at the first problem: it records an issue (key path, the value it got, what
is allowed) and returns a placeholder, so one run reports every bad key at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Final = _Missing()


@dataclass(frozen=True)
class ConfigIssue:
    """One bad config value: where it is, what was there, and what is allowed."""

    key: str
    got: str
    expected: str

    def __str__(self) -> str:
        return f"{self.key}: got {self.got}; expected {self.expected}"


class ConfigError(Exception):
    """The stack config is invalid. Raised before any resource is registered."""

    def __init__(self, issues: Collection[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"invalid stack configuration ({len(self.issues)} problem(s)):\n{lines}")


def describe(value: object) -> str:
    """A value as an error message shows it, with its JSON type so type mistakes are obvious."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    if isinstance(value, int | float):
        return f"{value} (number)"
    if isinstance(value, str):
        return f"{json.dumps(value)} (string)"
    if isinstance(value, list):
        return f"{json.dumps(value)} (array)"
    return f"{json.dumps(value, sort_keys=True, default=str)} (object)"


class Issues:
    """The problems found so far."""

    def __init__(self) -> None:
        self.found: list[ConfigIssue] = []

    def add(self, key: str, got: str, expected: str) -> None:
        self.found.append(ConfigIssue(key=key, got=got, expected=expected))

    def about(self, key: str) -> bool:
        """Whether `key` already has a problem: a check of several keys together judges only
        values that were read, never a reader's placeholder (one problem per bad key)."""
        return any(issue.key == key for issue in self.found)

    def raise_if_any(self) -> None:
        if self.found:
            raise ConfigError(self.found)


@dataclass(frozen=True)
class KeyDoc:
    """What a reader asked for: the key, what it allows, and what its absence means: a value
    (`literal`) or a sentence."""

    key: str
    expected: str
    default: str
    literal: bool = False


def _shown(default: object) -> str:
    if isinstance(default, _Missing):
        return "required"
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


class ObjectReader:
    """Reads the fields of one config object at `path`, recording every problem in `issues`.

    Call `reject_unknown()` after the last field: any key that no reader asked for is an error,
    so a typo such as `replcias` is reported instead of being ignored.

    Every key asked for is also written to `keys` (when given), with what it allows and its
    default as the reader applies it: the configuration reference is generated from that record
    (components/stack/reference.py), so the documentation cannot drift from the parser.
    `documented` replaces a default that depends on other keys with a sentence saying how.
    """

    def __init__(
        self,
        path: str,
        value: object,
        issues: Issues,
        *,
        separator: str = ".",
        keys: list[KeyDoc] | None = None,
    ) -> None:
        self.path = path
        self.issues = issues
        self.keys = keys
        self._separator = separator
        self._asked: list[str] = []
        if isinstance(value, str):
            value = _decode_json(path, value, issues)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            issues.add(path, describe(value), "an object")
            value = {}
        self._fields: dict[str, object] = value

    def key(self, name: str) -> str:
        return f"{self.path}{self._separator}{name}"

    def has(self, name: str) -> bool:
        return self._fields.get(name) is not None

    def _take(
        self, name: str, expected: str, default: object, documented: str | None = None
    ) -> object:
        self._asked.append(name)
        if self.keys is not None:
            literal = documented is None and not isinstance(default, _Missing)
            shown = documented or _shown(default)
            self.keys.append(KeyDoc(self.key(name), expected, shown, literal))
        return self._fields.get(name)

    def text(
        self,
        name: str,
        default: str | _Missing,
        *,
        expected: str = "a non-empty string",
        check: Callable[[str], bool] = bool,
        documented: str | None = None,
    ) -> str:
        """A string field; `check` decides whether a string is allowed."""
        value = self._take(name, expected, default, documented)
        return self._text(name, value, default, expected, check)

    def _text(
        self,
        name: str,
        value: object,
        default: str | _Missing,
        expected: str,
        check: Callable[[str], bool],
    ) -> str:
        if value is None:
            if isinstance(default, _Missing):
                self.issues.add(self.key(name), "nothing (the key is required)", expected)
                return ""
            return default
        if not isinstance(value, str) or not check(value):
            self.issues.add(self.key(name), describe(value), expected)
            return default if isinstance(default, str) else ""
        return value

    def secret(self, name: str, *, is_secret: bool, expected: str) -> str:
        """A secret string. Messages say only whether it is there and secret, never its value."""
        value = self._take(name, expected, REQUIRED)
        if value is None:
            self.issues.add(self.key(name), "nothing (the key is required)", expected)
        elif not is_secret:
            self.issues.add(self.key(name), "a plaintext value (not shown)", expected)
        elif not isinstance(value, str) or not value:
            self.issues.add(self.key(name), "an empty secret", expected)
        return value if isinstance(value, str) else ""

    def optional_text(
        self,
        name: str,
        *,
        absent: str,
        expected: str = "a non-empty string",
        check: Callable[[str], bool] = bool,
    ) -> str | None:
        """A string, or None when the key is absent (`absent` says what that means) or bad."""
        value = self._take(name, expected, None, absent)
        if value is None:
            return None
        text = self._text(name, value, REQUIRED, expected, check)
        return None if self.issues.about(self.key(name)) else text

    def optional_texts(
        self,
        name: str,
        *,
        absent: str,
        expected: str,
        problem: Callable[[str], str | None],
    ) -> tuple[str, ...] | None:
        """A non-empty array of distinct strings, each of which `problem` finds nothing wrong
        with (it says what is wrong, or None); None when the key is absent (`absent` says what
        that means) or bad. One problem for the key, naming each bad item by its index."""
        value = self._take(name, expected, None, absent)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.issues.add(self.key(name), describe(value), expected)
            return None
        wrong: list[str] = []
        first: dict[str, int] = {}
        for index, item in enumerate(value):
            if not isinstance(item, str):
                wrong.append(f"[{index}] {describe(item)} is not a string")
            elif (why := problem(item)) is not None:
                wrong.append(f"[{index}] {json.dumps(item)}: {why}")
            elif item in first:
                wrong.append(f"[{index}] {json.dumps(item)} repeats [{first[item]}]")
            else:
                first[item] = index
        if wrong:
            self.issues.add(self.key(name), f"{describe(value)}: {'; '.join(wrong)}", expected)
            return None
        return tuple(value)

    def boolean(self, name: str, default: bool) -> bool:
        """A true/false field (a JSON boolean; the strings "true" and "false" are refused)."""
        value = self._take(name, "true or false", default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.issues.add(self.key(name), describe(value), "true or false")
            return default
        return value

    def optional_choice(self, name: str, choices: Collection[str], *, absent: str) -> str | None:
        """One of `choices`, or None when the key is absent (`absent` says what that means)."""
        return self.optional_text(
            name, absent=absent, expected=_one_of(choices), check=choices.__contains__
        )

    def choice(
        self,
        name: str,
        default: str | _Missing,
        choices: Collection[str],
        *,
        documented: str | None = None,
    ) -> str:
        """One of `choices`; a value not allowed is reported and the default stands in (which
        callers must not judge again: `issues.about`)."""
        return self.text(
            name,
            default,
            expected=_one_of(choices),
            check=choices.__contains__,
            documented=documented,
        )

    def integer(
        self, name: str, default: int | _Missing, *, minimum: int, maximum: int | None = None
    ) -> int:
        """An integer field within [minimum, maximum]; booleans, floats and strings are refused.
        A bad or missing value is reported and `minimum` stands in."""
        expected = _integer_expected(minimum, maximum)
        value = self._take(name, expected, default)
        return self._integer(name, value, default, minimum, maximum)

    def _integer(
        self,
        name: str,
        value: object,
        default: int | _Missing,
        minimum: int,
        maximum: int | None,
    ) -> int:
        expected = _integer_expected(minimum, maximum)
        if value is None:
            if isinstance(default, _Missing):
                self.issues.add(self.key(name), "nothing (the key is required)", expected)
                return minimum
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            self.issues.add(self.key(name), describe(value), expected)
            return minimum
        return value

    def optional_integer(self, name: str, *, minimum: int, maximum: int, absent: str) -> int | None:
        """An integer within [minimum, maximum], or None when the key is absent (`absent` says
        what that means) or its value is bad (reported)."""
        value = self._take(name, _integer_expected(minimum, maximum), None, absent)
        if value is None:
            return None
        number = self._integer(name, value, REQUIRED, minimum, maximum)
        return None if self.issues.about(self.key(name)) else number

    def child(self, name: str) -> ObjectReader:
        """A nested object; absent means every field of it takes its default."""
        self._asked.append(name)
        return ObjectReader(self.key(name), self._fields.get(name), self.issues, keys=self.keys)

    def reject_unknown(self) -> None:
        allowed = ", ".join(sorted(self._asked))
        for name in sorted(set(self._fields) - set(self._asked)):
            self.issues.add(
                self.key(name),
                f"{describe(self._fields[name])} under an unknown key",
                f"only the keys {allowed}",
            )


def _one_of(choices: Collection[str]) -> str:
    return "one of " + ", ".join(choices)


def _integer_expected(minimum: int, maximum: int | None) -> str:
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    return f"an integer {bounds}"


def _decode_json(path: str, text: str, issues: Issues) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        issues.add(path, describe(text), "an object")
        return {}


def read_object(reader: ObjectReader, name: str, parse: Callable[[ObjectReader], T]) -> T:
    """Parse the object at `name` with `parse`, then reject the keys `parse` did not read."""
    child = reader.child(name)
    result = parse(child)
    child.reject_unknown()
    return result


def optional_object(
    reader: ObjectReader,
    name: str,
    parse: Callable[[ObjectReader], T],
    *,
    expected: str,
    absent: str,
) -> T | None:
    """Like read_object, or None when the key is absent (`absent` says what that means)."""
    if reader.keys is not None:
        reader.keys.append(KeyDoc(reader.key(name), expected, absent))
    if not reader.has(name):
        reader.child(name)  # asked for, so reject_unknown accepts the key
        return None
    return read_object(reader, name, parse)


def mapping_without_prefix(raw: Mapping[str, str], prefix: str) -> dict[str, object]:
    """The keys of one config namespace, with the namespace prefix removed."""
    return {key[len(prefix) :]: value for key, value in raw.items() if key.startswith(prefix)}
