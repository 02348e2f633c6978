"""The evaluator of the workflows' conditions (tests/workflow_expressions.py) behaves as GitHub's
on the cases the workflow rules depend on, each written out by hand."""

from __future__ import annotations

import pytest

from tests.workflow_expressions import ExpressionError, admits, evaluate

CONTEXT = {
    "github": {"event_name": "push", "repository": "Org/Repo", "event": {"pull_request": None}},
    "vars": {"FLAG": "true"},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("github.repository == 'org/repo'", True),  # strings compare ignoring case
        ("github.event.pull_request.head.repo.full_name == github.repository", False),
        ("github.event.pull_request.head.repo.full_name != github.repository", True),
        ("vars.MISSING == ''", True),  # a missing property is null, null equals ''
        ("vars.FLAG == 'true' && 'left' || 'right'", "left"),  # && and || return operands
        ("vars.MISSING && 'left' || 'right'", "right"),
        ("!(github.event_name == 'push' || github.event_name == 'workflow_dispatch')", False),
        ("${{ startsWith(github.repository, 'org/') }}", True),
        ("contains('abc', 'B')", True),
        ("1 == '1'", True),
        ("always()", True),
    ],
)
def test_an_expression_has_github_s_value(expression: str, value: object) -> None:
    assert evaluate(expression, CONTEXT) == value


def test_a_missing_if_admits_and_a_false_one_does_not() -> None:
    assert admits(None, CONTEXT)
    assert not admits("vars.FLAG == 'false'", CONTEXT)


@pytest.mark.parametrize(
    "expression",
    ["toJSON(vars)", "secrets.TOKEN == ''", "github.event_name ==", "(vars.FLAG", "a ~ b"],
)
def test_an_expression_outside_the_subset_is_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXT)
