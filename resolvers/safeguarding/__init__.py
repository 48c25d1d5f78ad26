"""Safeguarding: phrase libraries, detection, and (elsewhere in this package) alerts."""
