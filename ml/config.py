"""The training configuration: one dataclass, and the named presets the CLI offers."""

from dataclasses import asdict, dataclass, replace

from ml.data import ROI_WINDOWS, RoiInput


@dataclass
class TrainConfig:
    cohort: str = ""
    labels_csv: str | None = None
    out: str = "var/models/run"
    seed: int = 0
    split_seed: int | None = None  # seed of the patient split; None: seed (other seeds, same split)
    split_ratios: tuple[int, int, int] = (8, 1, 1)
    max_patients: int | None = None
    detector: str = "light"
    detector_epochs: int = 10
    detector_lr: float = 0.01
    detector_batch: int = 4
    detector_checkpoint: str | None = None  # reuse a trained detector (e.g. when a cohort has no boxes)
    init_from: str | None = None  # warm start both stages from an earlier checkpoint of the same networks
    min_detector_steps: int = 0  # small cohorts: more epochs, so the detector still sees enough batches
    min_classifier_steps: int = 0
    classifier: str = "auto"  # a registry name (ml.models.CLASSIFIERS), or AUTO_CLASSIFIER
    roi_crop: str = "physical"  # how a box becomes the classifier's crop (ml.data.ROI_CROPS)
    roi_windows: tuple[tuple[float, float], ...] = ROI_WINDOWS  # the crop's channels: (centre, width) HU
    classifier_epochs: int = 32
    classifier_lr: float = 2e-3
    classifier_batch: int = 64
    weight_decay: float = 1e-4
    # Epochs without a better validation QWK (of the EMA weights) before stopping, and the epoch with
    # the best one is kept; None: the whole cosine schedule runs and its last (averaged) weights are
    # kept, not an epoch picked by a validation kappa as noisy as its 30 patients.
    patience: int | None = None
    class_weighting: bool = True
    binary_loss_weight: float = 0.0  # weight of the binary term on P(grade >= 2) in the loss
    ema_decay: float = 0.99  # the classifier kept is an exponential moving average of its weights (0: off)
    amp: bool = True
    device: str | None = None  # cuda when available, else cpu
    threads: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def roi(self) -> RoiInput:
        return RoiInput(crop=self.roi_crop, windows=self.roi_windows)


# "auto": the canal-profile model while a project has few labels, the CNN once it has enough. The
# profile model measures the canal and learns only the mapping to a grade, so a hundred labels teach
# it; the CNN learns the measuring too and overtakes it with several hundred levels.
AUTO_CLASSIFIER = "auto"
FEW_LABELS_CLASSIFIER, MANY_LABELS_CLASSIFIER = "canal_profile", "small_cnn_max"
CNN_FROM_TRAINING_LEVELS = 600


def resolve_classifier(config: "TrainConfig", *, training_levels: int) -> "TrainConfig":
    """The config with a registry name for its classifier ("auto" chosen by the labels at hand)."""
    if config.classifier != AUTO_CLASSIFIER:
        return config
    many = training_levels >= CNN_FROM_TRAINING_LEVELS
    return replace(config, classifier=MANY_LABELS_CLASSIFIER if many else FEW_LABELS_CLASSIFIER)


PRESETS: dict[str, dict] = {
    "smoke": dict(max_patients=12, detector_epochs=2, classifier_epochs=3, patience=3, classifier_batch=32),
    # The platform's loop: a few minutes on CPU whatever the number of labels, warm-started from the
    # champion. The frozen reference set judges it, so its own validation and test splits are small
    # (one study each of 20; they pick an epoch only from MIN_VAL_LEVELS_TO_SELECT levels up).
    "fast": dict(
        detector_epochs=4,
        classifier_epochs=12,
        patience=5,
        min_detector_steps=200,
        min_classifier_steps=300,
        split_ratios=(18, 1, 1),
    ),
    "default": {},
    "paper": dict(classifier="efficientnet_b0", classifier_lr=1e-3, classifier_epochs=60, patience=12),
}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return replace(TrainConfig(), **{**PRESETS[name], **overrides})
