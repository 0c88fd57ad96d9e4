"""Digest templates (jinja2); shipped inside the package as ``monitor.templates``."""
