"""The six disc levels graded per study, as the backend stores them."""

LEVELS = ("C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1")
LEVEL_CHOICES = [(level, level) for level in LEVELS]
