// What a reader draws on the CT sagittal: the level's ROI box (Cornerstone's rectangle tool, kept in
// the model's reformat pixels) and a caliper (its length tool, two points in patient mm).
import type { Types } from "@cornerstonejs/core";
import { Enums as ToolEnums, LengthTool, RectangleROITool, annotation, type Types as ToolTypes } from "@cornerstonejs/tools";

export type Box = [number, number, number, number];
type Point3 = Types.Point3;

// Reformat geometry of model boxes (backend.reading.selectors.REFORMAT_SPACING_MM, ml.imaging).
const REFORMAT_SPACING_MM = 0.5;
const BOX_SETTLE_MS = 300;

/** The CT series' first row position (y) and top slice (z): the reformat's origin. */
export interface CtGeometry {
  yFirst: number;
  zTop: number;
}

interface Hooks {
  geometry: () => CtGeometry | null;
  viewport: () => Types.IVolumeViewport;
  isDestroyed: () => boolean;
  onBoxDrawn: (box: Box) => void;
  onCaliper: (points: [Point3, Point3]) => void;
}

const ours = (found: ToolTypes.Annotation) =>
  found.metadata?.toolName === RectangleROITool.toolName || found.metadata?.toolName === LengthTool.toolName;

export class SagittalDrawings {
  private liveRoi: string | null = null;
  private boxTimer = 0;

  constructor(private readonly hooks: Hooks) {}

  /** True while a box drawn on this level is on screen (the overlay then leaves the saved one out). */
  get drawing(): boolean {
    return this.liveRoi !== null;
  }

  /** A reformat box [x0, y0, x1, y1] (columns anterior to posterior, rows down from the top slice) in world. */
  boxCorners(box: Box): [Point3, Point3] | null {
    const geometry = this.hooks.geometry();
    if (!geometry) return null;
    const x = this.hooks.viewport().getCamera().focalPoint?.[0] ?? 0;
    const { yFirst, zTop } = geometry;
    const s = REFORMAT_SPACING_MM;
    return [
      [x, yFirst + box[0] * s, zTop - box[1] * s],
      [x, yFirst + box[2] * s, zTop - box[3] * s],
    ];
  }

  onAnnotationEvent(event: CustomEvent): void {
    const drawn = event.detail?.annotation as ToolTypes.Annotation | undefined;
    if (!drawn || this.hooks.isDestroyed()) return;
    if (drawn.metadata?.toolName === LengthTool.toolName) return this.onCaliper(event.type, drawn);
    const geometry = this.hooks.geometry();
    const points = drawn.data?.handles?.points as Point3[] | undefined;
    if (drawn.metadata?.toolName !== RectangleROITool.toolName || !geometry || !points?.length) return;
    const cols = points.map((p) => (p[1] - geometry.yFirst) / REFORMAT_SPACING_MM);
    const rows = points.map((p) => (geometry.zTop - p[2]) / REFORMAT_SPACING_MM);
    const round = (v: number) => Math.max(0, Math.round(v * 100) / 100);
    const box: Box = [round(Math.min(...cols)), round(Math.min(...rows)), round(Math.max(...cols)), round(Math.max(...rows))];
    if (box[2] <= box[0] || box[3] <= box[1]) {
      // a click, not a drag (a double click points the linked cursor): no box, the last one stays
      if (event.type === ToolEnums.Events.ANNOTATION_COMPLETED) annotation.state.removeAnnotation(drawn.annotationUID!);
      return;
    }
    if (this.liveRoi !== drawn.annotationUID) {
      this.clear(drawn.annotationUID); // one box per level: a new one replaces the last
      this.liveRoi = drawn.annotationUID ?? null;
    }
    window.clearTimeout(this.boxTimer);
    this.boxTimer = window.setTimeout(() => this.hooks.onBoxDrawn(box), BOX_SETTLE_MS);
  }

  /** A finished caliper goes to onCaliper (the world of a volume viewport is patient mm); one caliper
   * per level stays drawn, the latest. */
  private onCaliper(type: string, drawn: ToolTypes.Annotation): void {
    const points = drawn.data?.handles?.points as Point3[] | undefined;
    if (type !== ToolEnums.Events.ANNOTATION_COMPLETED || points?.length !== 2) return;
    for (const found of annotation.state.getAllAnnotations()) {
      const older = found.metadata?.toolName === LengthTool.toolName && found.annotationUID !== drawn.annotationUID;
      if (older) annotation.state.removeAnnotation(found.annotationUID!);
    }
    this.hooks.onCaliper([[...points[0]] as Point3, [...points[1]] as Point3]);
  }

  /** Removes the drawn boxes (but `keep`) and, on a new level (no `keep`), the caliper too. */
  clear(keep?: string): void {
    for (const found of annotation.state.getAllAnnotations()) {
      const tool = found.metadata?.toolName;
      if (tool === LengthTool.toolName && !keep) annotation.state.removeAnnotation(found.annotationUID!);
      else if (tool === RectangleROITool.toolName && found.annotationUID !== keep) {
        annotation.state.removeAnnotation(found.annotationUID!);
      }
    }
    if (!keep) this.liveRoi = null;
    const viewport = this.hooks.viewport();
    if (!this.hooks.isDestroyed() && viewport.getActors().length) viewport.render();
  }

  destroy(): void {
    window.clearTimeout(this.boxTimer);
    for (const found of annotation.state.getAllAnnotations()) {
      if (ours(found)) annotation.state.removeAnnotation(found.annotationUID!);
    }
  }
}
