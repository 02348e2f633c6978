"""The voting-app CrossGuard policy pack (rules.py; __main__.py serves them)."""
