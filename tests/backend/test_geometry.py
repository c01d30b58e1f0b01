"""The one home of image-plane geometry (backend.common.geometry)."""

import pytest

from backend.common.geometry import distance_to_plane, image_normal, image_plane

AXIAL = [1, 0, 0, 0, 1, 0]
SAGITTAL = [0, 1, 0, 0, 0, -1]
CORONAL = [1, 0, 0, 0, 0, -1]


@pytest.mark.parametrize(
    ("orientation", "plane"),
    [
        (AXIAL, "axial"),
        (SAGITTAL, "sagittal"),
        (CORONAL, "coronal"),
        ([0, 0.96, 0.28, 0, 0.28, -0.96], "sagittal"),
        (None, "unknown"),
        ([1, 0, 0], "unknown"),
    ],
)
def test_plane_of_an_image(orientation, plane):
    assert image_plane(orientation) == plane


def test_normal_and_distance_to_an_axial_plane():
    assert image_normal(AXIAL) == (0.0, 0.0, 1.0)
    assert distance_to_plane([5.0, -3.0, 12.5], position=[-100, -100, 10.0], orientation=AXIAL) == 2.5
    assert distance_to_plane([0, 0, 0], position=None, orientation=AXIAL) is None
    assert distance_to_plane([0, 0, 0], position=[0, 0, 0], orientation=[]) is None
