"""GitHub Actions expressions (the `if:` of a job or step), evaluated against a context the test
gives: so that a rule such as "a fork's pull request never reaches this job" is checked by what
the condition does for a fork's event, not by how it is worded.

The subset the workflows use: literals ('text', true, false, null, numbers), context paths
(github.event.pull_request.head.repo.full_name), ==, !=, !, &&, || and parentheses, and the
functions always(), success(), failure(), cancelled(), contains(), startsWith(), endsWith(). As
on GitHub: a missing property is null, strings compare ignoring case, values of different types
compare as numbers, && and || return one of their operands. Anything else is refused, so a
condition that uses more fails its test loudly instead of being misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||!|\(|\)|,|\.)|(?P<name>[A-Za-z_][\w-]*))"
)


class ExpressionError(Exception):
    """An expression outside the subset, or malformed."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = TOKEN.match(text, at)
        if not match or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:]!r} in {text!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        at = match.end()
    return tokens


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    return float("nan")


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right):
        return bool(left == right)
    return _number(left) == _number(right)


def truthy(value: Any) -> bool:
    if isinstance(value, float) and value != value:  # NaN
        return False
    return value not in (None, False, 0, 0.0, "")


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "always": lambda: True,
    "success": lambda: True,
    "failure": lambda: False,
    "cancelled": lambda: False,
    "contains": lambda haystack, needle: (
        any(equal(item, needle) for item in haystack)
        if isinstance(haystack, list)
        else _text(needle) in _text(haystack)
    ),
    "startsWith": lambda text, prefix: _text(text).startswith(_text(prefix)),
    "endsWith": lambda text, suffix: _text(text).endswith(_text(suffix)),
}


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.context = context

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ExpressionError(f"{self.text!r} ends too early")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r}, found {token[1]!r} in {self.text!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.at != len(self.tokens):
            raise ExpressionError(f"unexpected {self.peek()!r} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.comparison()
        while self.peek() == "&&":
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            operator = self.take()[1]
            right = self.unary()
            value = equal(value, right) if operator == "==" else not equal(value, right)
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, token = self.take()
        if token == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind == "string":
            return token[1:-1].replace("''", "'")
        if kind == "number":
            return float(token)
        if kind != "name":
            raise ExpressionError(f"unexpected {token!r} in {self.text!r}")
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        if self.peek() == "(":
            return self.call(token)
        if token not in self.context:
            raise ExpressionError(f"no context {token!r} given for {self.text!r}")
        value: Any = self.context[token]
        while self.peek() == ".":
            self.take()
            _, key = self.take()
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    def call(self, name: str) -> Any:
        if name not in FUNCTIONS:
            raise ExpressionError(f"function {name}() is not in the subset ({self.text!r})")
        self.take("(")
        arguments = []
        while self.peek() != ")":
            arguments.append(self.or_())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return FUNCTIONS[name](*arguments)


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of `expression` (with or without its ${{ }}) in `context`."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return _Parser(text, context).parse()


def admits(condition: str | None, context: Mapping[str, Any]) -> bool:
    """Whether a job or step with this `if:` runs in `context` (no `if:`: it runs)."""
    return condition is None or truthy(evaluate(condition, context))
