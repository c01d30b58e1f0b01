"""A classifier that measures before it learns: the canal's antero-posterior width in every row of
the crop, as a radiologist's caliper would, then a small head on a handful of those widths.

The CNN has to discover from the labels that the grade is about how wide the low-density canal
is; with the hundred-odd labels of a project's first day it does not (reference-set quadratic
kappa 0.6-0.8). Here the measuring is fixed: the crop's canal window is turned back into HU and
smoothed, and per row the run of canal-density pixels through the crop's centre (the canal's
centre, where the box or level position puts it) is the canal's width at that height. What is
learned is only how those widths map to a grade, which a few dozen levels teach (about 0.9
quadratic kappa against the truth after 120 labels on the synthetic cohort, box or no box).

The input is the classifier's usual crop (ml.data: physical crop, ROI_WINDOWS channels), so the
detector, the datasets, the checkpoint and the predictor are unchanged.
"""

import torch
from torch import nn
from torch.nn import functional as F

from ml.data import ROI_WINDOWS
from ml.imaging import REFORMAT_SPACING_MM

# CSF ~2-14 HU, cord ~22-30 and epidural fat are canal; disc, ligament (62-90) and bone are not.
# Muscle (40-60) lies between, so the width is taken at three cut-offs and the head weighs them.
CANAL_CUTOFFS_HU = (35.0, 45.0, 55.0)
CSF_CUTOFF_HU = 16.0
# The search for the canal around the crop's centre column (pixels), for a centre a little off.
CENTRE_SEARCH_PX = (-6, -3, 0, 3, 6)
# The rows around the crop's centre where the disc is: the narrowest point is looked for there.
DISC_BAND_HALF_ROWS = 10


def _gaussian_kernel(sigma: float = 1.0, radius: int = 2) -> torch.Tensor:
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    line = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = torch.outer(line, line)
    return (kernel / kernel.sum())[None, None]


def _run_through(inside: torch.Tensor, column: int) -> torch.Tensor:
    """Per row, the length of the run of `inside` pixels through `column` (0 where it is outside)."""
    right = torch.cumprod(inside[..., column:], dim=-1).sum(-1)
    left = torch.cumprod(inside[..., :column].flip(-1), dim=-1).sum(-1)
    return (right + left) * inside[..., column]


CANAL_FEATURES = [
    f"{name}_{cutoff:g}hu"
    for cutoff in CANAL_CUTOFFS_HU
    for name in ("disc_narrowest_mm", "disc_p10_mm", "disc_median_mm", "median_mm", "widest_mm")
] + ["disc_csf_share"]
CANAL_AP_FEATURE = CANAL_FEATURES.index("disc_p10_mm_45hu")  # alone, the best single estimate of canal AP


def canal_measure(x: torch.Tensor, *, canal_channel: int = 1) -> torch.Tensor:
    """(batch, CANAL_FEATURES) of a batch of classifier crops (ROI_WINDOWS channels): per cut-off the
    narrowest, 10th-percentile and median width in the disc band, the median and widest width of the
    crop (mm), and the CSF share of the canal in the disc band."""
    centre_hu, width_hu = ROI_WINDOWS[canal_channel]
    hu = x[:, canal_channel : canal_channel + 1].float() * width_hu + (centre_hu - width_hu / 2)
    hu = F.conv2d(F.pad(hu, (2, 2, 2, 2), mode="replicate"), _gaussian_kernel().to(hu.device))[:, 0]
    rows = hu.shape[1] // 2
    band = slice(max(0, rows - DISC_BAND_HALF_ROWS), rows + DISC_BAND_HALF_ROWS)
    centre = hu.shape[2] // 2
    features = []
    for cutoff in CANAL_CUTOFFS_HU:
        inside = (hu < cutoff).float()
        runs = [_run_through(inside, centre + d) for d in CENTRE_SEARCH_PX if 0 <= centre + d < hu.shape[2]]
        widths = torch.stack(runs).amax(0) * REFORMAT_SPACING_MM
        disc = widths[:, band]
        features += [
            disc.amin(1),
            disc.quantile(0.1, dim=1),
            disc.median(1).values,
            widths.median(1).values,
            widths.amax(1),
        ]
    canal = (hu[:, band] < CANAL_CUTOFFS_HU[1]).float()
    csf = ((hu[:, band] < CSF_CUTOFF_HU).float() * canal).sum((1, 2)) / canal.sum((1, 2)).clamp(min=1)
    return torch.stack([*features, csf], 1)


class CanalProfileNet(nn.Module):
    """Canal widths per row (fixed) -> standardised summary features -> a small head behind dropout."""

    def __init__(self, num_classes: int = 4, *, hidden: int = 32, canal_channel: int = 1) -> None:
        super().__init__()
        self.canal_channel = canal_channel
        features = len(CANAL_FEATURES)
        self.norm = nn.BatchNorm1d(features)
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = canal_measure(x, canal_channel=self.canal_channel)
        if (
            self.training and len(features) == 1
        ):  # a lone sample has no batch statistics: use the running ones
            features = F.batch_norm(
                features, self.norm.running_mean, self.norm.running_var, self.norm.weight, self.norm.bias
            )
        else:
            features = self.norm(features)
        return self.head(self.body(features))
