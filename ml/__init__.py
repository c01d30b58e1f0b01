"""Pure PyTorch/numpy machine learning for cervical stenosis grading. Never imports Django."""

LEVELS: tuple[str, ...] = ("C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1")
GRADES: tuple[int, ...] = (0, 1, 2, 3)
