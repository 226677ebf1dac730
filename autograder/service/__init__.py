"""The course service: students submit notebooks over HTTP and read their reports in seconds.

One stage per module:
- course.py: the course's settings (DIR/course.toml) and `course init`;
- tokens.py: random tokens, stored only as hashes;
- schema.py, migrations/, store.py: the database (SQLAlchemy with Alembic migrations;
  SQLite in WAL mode in DIR by default) and every query on it;
- policy.py: deadlines, extensions, late penalties and the submission limit (batch/desk/, shared with `grade`);
- uploads.py: a bounded, time-limited upload, checked as a notebook before it is queued;
- grading.py: the queue's dispatcher on the warm workers of `grade --jobs` (or a Dask cluster);
- gradebook.py: the class's rows as `grade` writes grades.csv, the decisions applied (autograder/batch/desk/);
- classview.py: the instructor's view of the class by check, coloured by root cause, and who is stuck;
- auth.py, api.py, pages.py, app.py: sign-in and sessions, the JSON API, the pages, the ASGI app;
- commands.py: `course init`, `course students` and `serve`, as cli.py calls them.
"""
