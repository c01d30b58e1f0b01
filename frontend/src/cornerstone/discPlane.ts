// The CT axial in the disc's own plane: an oblique slice of the CT volume through a level's disc
// centre, perpendicular to the disc's normal (patient mm, from the level position), seen as an
// acquired axial is (from the feet, anterior up).
import type { Types } from "@cornerstonejs/core";

type Point3 = Types.Point3;

export interface DiscPlane {
  centre: Point3;
  /** Unit normal of the disc plane, pointing superiorly. */
  normal: Point3;
}

const dot = (a: Point3, b: Point3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const unit = (a: Point3): Point3 => {
  const length = Math.hypot(...a) || 1;
  return [a[0] / length, a[1] / length, a[2] / length];
};

/** The camera of a volume viewport that shows the disc plane, `distance` mm from its focal point. */
export function discPlaneCamera(plane: DiscPlane, distance = 500): Partial<Types.ICamera> {
  const normal = unit(plane.normal);
  const viewPlaneNormal: Point3 = [-normal[0], -normal[1], -normal[2]]; // the camera below, looking up
  const anterior: Point3 = [0, -1, 0]; // patient -y, up in an axial image
  const along = dot(anterior, normal);
  const viewUp = unit([anterior[0] - along * normal[0], anterior[1] - along * normal[1], anterior[2] - along * normal[2]]);
  const { centre } = plane;
  return {
    focalPoint: centre,
    position: [
      centre[0] + viewPlaneNormal[0] * distance,
      centre[1] + viewPlaneNormal[1] * distance,
      centre[2] + viewPlaneNormal[2] * distance,
    ],
    viewPlaneNormal,
    viewUp,
  };
}
