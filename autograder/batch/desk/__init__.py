"""The instructor's desk: what happens after the grader's score, shared by `grade` and the course service.

- policy.py: deadlines, extensions, days late, the late penalty and the submission limit, as
  pure functions of times (moved here from service/, which imports it);
- files.py: `grade --policy FILE.toml` (course.toml's keys) and `--times FILE.csv`;
- decisions.py: overrides, comments and extensions, kept with who made them and when, applied on
  top of the grader's score at read time; grades.csv's decision columns;
- overrides.py: `grade --overrides FILE.csv`, read and checked line by line;
- feedback.py: the students' reports as a zip an LMS's bulk feedback upload takes.
"""
