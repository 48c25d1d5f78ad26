"""Importing OneRoster 1.1 and 1.2 CSV sets into a school (``pupil-progress import-oneroster``)."""
