"""What an exercise is, as data: the declared model (model.py), the exercise file format
(file.py), the built-in exercises and the registry that finds one by id or path (registry.py,
files/), and the cells a released notebook carries (release.py)."""
