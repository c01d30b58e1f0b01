from ml.models.classifiers import CLASSIFIERS, build_classifier
from ml.models.detector import DETECTORS, build_detector, postprocess_levels

__all__ = ["CLASSIFIERS", "DETECTORS", "build_classifier", "build_detector", "postprocess_levels"]
