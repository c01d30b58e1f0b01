"""Stage 2: a registry of CNN backbones by name, each with a 4-grade head behind dropout.

No weights are downloaded (weights=None); `pretrained` may name a local checkpoint. The dropout
before the last layer is what MC-dropout inference samples.
"""

from collections.abc import Callable

import torch
import torchvision.models as tvm
from torch import nn

from ml.models.canal_profile import CanalProfileNet

NUM_GRADES = 4
HEAD_DROPOUT = 0.3


class SmallCNN(nn.Module):
    """A compact VGG-style net: the CPU default, trains in minutes from scratch.

    With `max_pool` the head sees the feature maps' maximum beside their mean: whether the canal is
    narrower than the cord *somewhere* in the crop is a local finding that a mean over the crop
    dilutes.
    """

    def __init__(self, num_classes: int = NUM_GRADES, width: int = 32, *, max_pool: bool = False) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(block(3, width), block(width, width * 2), block(width * 2, width * 4))
        self.max_pool = max_pool
        pooled = width * 4 * (2 if max_pool else 1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(HEAD_DROPOUT), nn.Linear(pooled, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        pooled = features.mean((2, 3))
        if self.max_pool:
            pooled = torch.cat([pooled, features.amax((2, 3))], 1)
        return self.head(pooled)


def _replace_last_linear(model: nn.Module, attribute: str, num_classes: int) -> nn.Module:
    """Swap the model's final classifier (a Linear, possibly inside a Sequential) for dropout + Linear."""
    owner, name = model, attribute
    if "." in attribute:
        path, name = attribute.rsplit(".", 1)
        for part in path.split("."):
            owner = getattr(owner, part)
    last = getattr(owner, name)
    if isinstance(last, nn.Sequential):
        index = max(i for i, m in enumerate(last) if isinstance(m, nn.Linear))
        linear = last[index]
        last[index] = nn.Linear(linear.in_features, num_classes)
        if not any(isinstance(m, nn.Dropout) for m in last):
            last.insert(index, nn.Dropout(HEAD_DROPOUT))
    else:
        setattr(
            owner, name, nn.Sequential(nn.Dropout(HEAD_DROPOUT), nn.Linear(last.in_features, num_classes))
        )
    return model


def _tv(builder: Callable[..., nn.Module], head: str) -> Callable[[int], nn.Module]:
    def build(num_classes: int = NUM_GRADES) -> nn.Module:
        return _replace_last_linear(builder(weights=None), head, num_classes)

    return build


def _timm(name: str, head: str) -> Callable[[int], nn.Module]:
    def build(num_classes: int = NUM_GRADES) -> nn.Module:
        import timm

        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        return _replace_last_linear(model, head, num_classes)

    return build


CLASSIFIERS: dict[str, Callable[[int], nn.Module]] = {
    "small_cnn_max": lambda num_classes=NUM_GRADES: SmallCNN(num_classes, max_pool=True),  # the default
    "small_cnn": lambda num_classes=NUM_GRADES: SmallCNN(num_classes),  # the default before 2026-11-27
    # measures the canal's width first, then learns: a project's first hundred labels (fast preset)
    "canal_profile": lambda num_classes=NUM_GRADES: CanalProfileNet(num_classes),
    # the paper's best four
    "efficientnet_b0": _tv(tvm.efficientnet_b0, "classifier"),
    "densenet121": _tv(tvm.densenet121, "classifier"),
    "resnet101": _tv(tvm.resnet101, "fc"),
    "resnet26d": _timm("resnet26d", "fc"),
    # the rest of the comparison
    "resnet18": _tv(tvm.resnet18, "fc"),
    "resnet34": _tv(tvm.resnet34, "fc"),
    "resnet50": _tv(tvm.resnet50, "fc"),
    "resnext50_32x4d": _tv(tvm.resnext50_32x4d, "fc"),
    "wide_resnet50_2": _tv(tvm.wide_resnet50_2, "fc"),
    "densenet169": _tv(tvm.densenet169, "classifier"),
    "efficientnet_b1": _tv(tvm.efficientnet_b1, "classifier"),
    "mobilenet_v2": _tv(tvm.mobilenet_v2, "classifier"),
    "mobilenet_v3_small": _tv(tvm.mobilenet_v3_small, "classifier"),
    "mobilenet_v3_large": _tv(tvm.mobilenet_v3_large, "classifier"),
    "regnet_y_400mf": _tv(tvm.regnet_y_400mf, "fc"),
    "regnet_x_400mf": _tv(tvm.regnet_x_400mf, "fc"),
    "convnext_tiny": _tv(tvm.convnext_tiny, "classifier"),
    "shufflenet_v2_x1_0": _tv(tvm.shufflenet_v2_x1_0, "fc"),
    "mnasnet1_0": _tv(tvm.mnasnet1_0, "classifier"),
}
PAPER_MODELS = ("efficientnet_b0", "densenet121", "resnet101", "resnet26d")


def build_classifier(name: str, *, num_classes: int = NUM_GRADES, pretrained: str | None = None) -> nn.Module:
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; known: {', '.join(sorted(CLASSIFIERS))}")
    model = CLASSIFIERS[name](num_classes)
    if pretrained:
        state = torch.load(pretrained, map_location="cpu", weights_only=True)
        state = state.get("classifier_state", state)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected:
            raise ValueError(f"{pretrained} does not fit {name}: unexpected keys {unexpected[:5]}")
    return model
