"""Stage 1: Faster R-CNN that finds the canal ROI at each disc level (class = level + 1).

`light` is a small backbone that trains from scratch on two CPU cores in minutes; torchvision's
builders (`fasterrcnn_mobilenet_v3_large_fpn`, `fasterrcnn_resnet50_fpn`, ...) are there for GPU
runs. All follow torchvision's contract: a loss dict in train mode, a list of
{boxes, labels, scores} in eval mode.
"""

import torch
import torchvision.models.detection as tvd
from torch import nn
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign, nms

from ml import LEVELS

NUM_CLASSES = len(LEVELS) + 1  # background + six levels


class LightBackbone(nn.Module):
    """Five conv stages to stride 8 with a dilated context block; 96 output channels."""

    out_channels = 96

    def __init__(self) -> None:
        super().__init__()

        def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            )

        self.body = nn.Sequential(
            conv(3, 24, stride=2),
            conv(24, 32),
            conv(32, 48, stride=2),
            conv(48, 48),
            conv(48, 64, stride=2),
            conv(64, 64),
            conv(64, 96, dilation=2),
            conv(96, 96, dilation=4),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _light(num_classes: int) -> tvd.FasterRCNN:
    backbone = LightBackbone()
    anchors = AnchorGenerator(sizes=((20, 32, 48, 64),), aspect_ratios=((0.4, 0.6, 0.9),))
    return tvd.FasterRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(backbone.out_channels * 49, 256),
        box_predictor=FastRCNNPredictor(256, num_classes),
        min_size=256,
        max_size=384,
        image_mean=[0.0, 0.0, 0.0],
        image_std=[1.0, 1.0, 1.0],
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=128,
        box_batch_size_per_image=128,
        box_detections_per_img=30,
        box_score_thresh=0.01,
    )


def _torchvision(builder) -> callable:
    def build(num_classes: int) -> tvd.FasterRCNN:
        return builder(
            weights=None, weights_backbone=None, num_classes=num_classes, min_size=256, max_size=384
        )

    return build


DETECTORS = {
    "light": _light,
    "fasterrcnn_mobilenet_v3_large_320_fpn": _torchvision(tvd.fasterrcnn_mobilenet_v3_large_320_fpn),
    "fasterrcnn_mobilenet_v3_large_fpn": _torchvision(tvd.fasterrcnn_mobilenet_v3_large_fpn),
    "fasterrcnn_resnet50_fpn": _torchvision(tvd.fasterrcnn_resnet50_fpn),
    "fasterrcnn_resnet50_fpn_v2": _torchvision(tvd.fasterrcnn_resnet50_fpn_v2),
}


def build_detector(name: str = "light", *, num_classes: int = NUM_CLASSES) -> tvd.FasterRCNN:
    if name not in DETECTORS:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name](num_classes)


def postprocess_levels(
    boxes: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor, *, min_score: float = 0.05
) -> dict[str, tuple[list[float], float]]:
    """At most one box per level, in anatomical order (C2/3 highest in the image).

    Boxes overlapping a better one are dropped whatever their class. When all six levels are
    found, they are named by their order from top to bottom; otherwise each keeps its predicted
    level, and a box whose level breaks the top-to-bottom order is dropped.
    """
    keep = scores >= min_score
    boxes, labels, scores = boxes[keep], labels[keep], scores[keep]
    if len(boxes) == 0:
        return {}
    kept = nms(boxes, scores, iou_threshold=0.3)[: len(LEVELS)]
    boxes, labels, scores = boxes[kept], labels[kept], scores[kept]
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    order = torch.argsort(centre_y)
    if len(order) == len(LEVELS):
        return {
            LEVELS[rank]: ([round(float(v), 2) for v in boxes[i]], float(scores[i]))
            for rank, i in enumerate(order.tolist())
        }
    best: dict[int, int] = {}
    for i in torch.argsort(scores, descending=True).tolist():
        best.setdefault(int(labels[i]), i)
    chosen = sorted(best.items(), key=lambda item: float(centre_y[item[1]]))
    result, last_label = {}, 0
    for label, i in chosen:
        if 1 <= label <= len(LEVELS) and label > last_label:
            result[LEVELS[label - 1]] = ([round(float(v), 2) for v in boxes[i]], float(scores[i]))
            last_label = label
    return result


def complete_levels(found: dict[str, tuple[list[float], float]]) -> dict[str, tuple[list[float], float]]:
    """Fill levels the detector missed by interpolating box centres along the level index.

    Filled boxes get score 0.0. Needs at least two found levels; otherwise returns what it got.
    """
    if len(found) < 2 or len(found) == len(LEVELS):
        return dict(found)
    index = [LEVELS.index(level) for level in found]
    boxes = torch.tensor([found[level][0] for level in found])
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    width, height = float((boxes[:, 2] - boxes[:, 0]).mean()), float((boxes[:, 3] - boxes[:, 1]).mean())
    x = torch.tensor(index, dtype=torch.float32)
    design = torch.stack([torch.ones_like(x), x], dim=1)
    fit_x = torch.linalg.lstsq(design, cx[:, None]).solution.squeeze(1)
    fit_y = torch.linalg.lstsq(design, cy[:, None]).solution.squeeze(1)
    result = dict(found)
    for k, level in enumerate(LEVELS):
        if level not in result:
            px, py = float(fit_x[0] + fit_x[1] * k), float(fit_y[0] + fit_y[1] * k)
            box = [px - width / 2, py - height / 2, px + width / 2, py + height / 2]
            result[level] = ([round(v, 2) for v in box], 0.0)
    return {level: result[level] for level in LEVELS}
