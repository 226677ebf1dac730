"""Renderings of result documents, one module per medium.

`model.build` turns a result document into a Report (plain data for every medium);
`terminal` prints it, `documents` writes it as HTML or Markdown, `inline` draws the
self-check's panels inside a student's notebook, and `summary` writes the class's
summary.html for `grade`. `plots` draws the pictures, `templating` holds the templates,
`escaping` makes student text safe for each medium.
"""
