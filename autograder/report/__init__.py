"""Renderings of a result document: terminal summary (and, later, HTML and Markdown)."""
