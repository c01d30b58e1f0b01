"""When a training teaches the detector again and when it reuses the champion's."""

from backend.learning.services.training import detector_learns_again

BOX = [1.0, 2.0, 3.0, 4.0]
LEVELS = ("C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1")


def study(boxes=(), positions=None) -> dict:
    return {"boxes": {lv: BOX for lv in boxes}, "positions": positions or {}}


def test_whole_targets_teach_the_detector_and_partial_ones_reuse_the_champions():
    finder_only = [study(), study(positions={"C2/3": ([0, 0, 0], "model")})]
    assert detector_learns_again(studies=finder_only, has_champion=True), (
        "keyboard-only readers: finder boxes"
    )
    assert detector_learns_again(studies=[study(LEVELS), study(LEVELS)], has_champion=True)
    partial = [study(LEVELS), study(("C5/6",))]
    assert not detector_learns_again(studies=partial, has_champion=True)
    corrected = [study(positions={"C4/5": ([0, 0, 0], "reader")}), study()]
    assert not detector_learns_again(studies=corrected, has_champion=True)
    assert detector_learns_again(studies=partial, has_champion=False), (
        "the first model learns from what there is"
    )
