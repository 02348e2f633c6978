"""Reusable Pulumi components for the five-part voting app."""
