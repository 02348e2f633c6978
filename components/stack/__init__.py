"""The stack config: read once from Pulumi's config into frozen dataclasses, every problem
reported together by key, value and what is allowed."""
