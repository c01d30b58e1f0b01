// Every keyboard shortcut of the reading view, in one list: the help overlay shows it and the
// README copies it. Grades use 0-3, so nothing else sits on a digit.
export const SHORTCUTS: [keys: string, action: string][] = [
  ["↓ / j", "next level (down the spine)"],
  ["↑ / k", "previous level"],
  ["0 1 2 3", "grade the current level (Kang)"],
  ["← / →", "previous / next CT slice"],
  ["Shift + ← / →", "previous / next MR slice"],
  ["w", "CT bone window (L 400 / W 1800)"],
  ["e", "CT soft-tissue window (L 40 / W 400)"],
  ["m", "MR auto window (the image's range)"],
  ["r", "reset zoom and pan"],
  ["o", "CT axial: the acquired slices or the current disc's own plane"],
  ["[ / ]", "move the current level's line up / down 1 mm on the CT (yours only)"],
  ["{ / }", "the same on the MR"],
  ["p / Shift + p", "place the current level at the CT / MR axial image shown (a level not found)"],
  ["h", "hide / show the model's suggestion"],
  ["a", "take the model's box as the level's ROI"],
  ["x", "clear the level's ROI"],
  ["c", "switch the caliper between canal AP and vertebral body AP"],
  ["n", "write a note for the level (Esc leaves the note)"],
  ["s", "submit the case and open the next one"],
  ["?", "this help (Esc closes it)"],
];

export const MOUSE: [string, string][] = [
  ["wheel", "scroll the stack"],
  ["left drag", "window/level; on the CT sagittal: draw the level's ROI (Shift + drag: window/level)"],
  ["Ctrl + left drag", "on the CT sagittal: a caliper (canal or body AP, c switches)"],
  ["double click", "the other views of the same study go to that point (linked cursor)"],
  ["right drag", "zoom"],
  ["middle drag", "pan"],
];

export const GRADE_NAMES = [
  "no canal narrowing",
  ">50% of the subarachnoid space obliterated, no cord deformity",
  "cord deformity, no cord signal change",
  "T2 hyperintense cord signal",
];
