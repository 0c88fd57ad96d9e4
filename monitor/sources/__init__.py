"""Parsers for the ministry's boards: the HTML listing and article pages, and the RSS feed."""
