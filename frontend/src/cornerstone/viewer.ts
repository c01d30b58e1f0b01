// The reading view's Cornerstone3D setup in one place, after the structure of Cornerstone3D's
// examples: one rendering engine, CT and MR axial STACK viewports, a CT sagittal and a CT axial in
// the current disc's plane (ORTHOGRAPHIC, from the CT series as a volume), the MR sagittal series,
// two tool groups, and destroy(). A double click on a view sends the other views of its modality
// to that point (the linked cursor).
// Levels are synchronised by level: each stack has its own index and its own disc line per level (from
// that study's level positions), since CT and MR do not share a frame of reference.
import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  imageLoader,
  metaData,
  volumeLoader,
  type Types,
} from "@cornerstonejs/core";
import {
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  RectangleROITool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
} from "@cornerstonejs/tools";

import { discPlaneCamera, type DiscPlane } from "./discPlane";
import { initCornerstone } from "./init";
import { SagittalDrawings, type Box } from "./sagittalDrawings";
import { registerStack, type SeriesMetadata } from "./dicomweb";
import { LevelLines, drawOverlay, type OverlayState } from "./overlay";

export type ViewportKey = "ctAxial" | "mrAxial" | "ctSagittal" | "mrSagittal" | "ctDisc";
const VOLUME_VIEWS: ViewportKey[] = ["ctSagittal", "ctDisc"];
// The linked cursor: views of one study (CT and MR share no frame of reference).
const LINKED: ViewportKey[][] = [
  ["ctAxial", "ctSagittal"],
  ["mrAxial", "mrSagittal"],
];
export type Preset = "ctBone" | "ctSoft" | "mrAuto";
export type { Box };

/** The three series' metadata, each being fetched (null: the case has no such series). */
export interface ViewerSeries {
  ctAxial: Promise<SeriesMetadata> | null;
  mrAxial: Promise<SeriesMetadata> | null;
  mrSagittal: Promise<SeriesMetadata> | null;
}

export interface LevelIndex {
  ct: number | null;
  mr: number | null;
  /** The level's disc line from its position; without one, where the level's axial image cuts the view. */
  ctLine?: LevelLines | null;
  mrLine?: LevelLines | null;
  /** The level's disc plane on the CT (its position), for the disc-plane axial. */
  ctPlane?: DiscPlane | null;
}

export interface ViewerCallbacks {
  onFirstImage?: (key: ViewportKey) => void;
  onAllLoaded?: () => void;
  onError?: (message: string) => void;
  onSlice?: (key: ViewportKey, index: number, count: number) => void;
  onBoxDrawn?: (box: Box) => void;
  /** The reader dragged the current level's line: by `mm` along the disc's normal (positive: up). */
  onLevelDragged?: (modality: "CT" | "MR", mm: number) => void;
  /** A caliper (Ctrl + drag on the CT sagittal) was drawn: its two ends in patient mm. */
  onCaliper?: (points: [Point3, Point3]) => void;
}

const PRESETS = { ctBone: { center: 400, width: 1800 }, ctSoft: { center: 40, width: 400 } };
const voiRangeOf = (preset: keyof typeof PRESETS) => {
  const { center, width } = PRESETS[preset];
  return { lower: center - width / 2, upper: center + width / 2 };
};
let counter = 0;

type Point3 = Types.Point3;
type Plane = {
  imagePositionPatient: Point3;
  rowCosines: Point3;
  columnCosines: Point3;
  rowPixelSpacing: number;
  columnPixelSpacing: number;
  rows: number;
  columns: number;
};

const add = (a: Point3, b: Point3, s: number): Point3 => [a[0] + b[0] * s, a[1] + b[1] * s, a[2] + b[2] * s];

/** The centre of an image and the two ends of its AP line (where its plane cuts a sagittal view). */
function levelLine(imageId: string | undefined): LevelLines | null {
  const plane = imageId ? (metaData.get("imagePlaneModule", imageId) as Plane | undefined) : undefined;
  if (!plane?.imagePositionPatient || !plane.rowCosines || !plane.columnCosines) return null;
  const { imagePositionPatient: p, rowCosines: r, columnCosines: c } = plane;
  const centre = add(add(p, r, ((plane.columns - 1) / 2) * plane.columnPixelSpacing), c, ((plane.rows - 1) / 2) * plane.rowPixelSpacing);
  const half = (plane.rows * plane.rowPixelSpacing) / 2;
  return { centre, from: add(centre, c, -half), to: add(centre, c, half) };
}

export class ReadingViewer {
  private readonly id = ++counter;
  private readonly engine: RenderingEngine;
  private readonly ids: Record<ViewportKey, string>;
  private readonly stackGroupId = `reading-stack-${this.id}`;
  private readonly sagittalGroupId = `reading-sagittal-${this.id}`;
  private readonly volumeId = `cornerstoneStreamingImageVolume:reading-ct-${this.id}`;
  private readonly svgs: Partial<Record<ViewportKey, SVGSVGElement>> = {};
  private readonly listeners: Array<() => void> = [];
  private stacks: Partial<Record<ViewportKey, string[]>> = {};
  private ctLines: (LevelLines | null)[] = [];
  private ctPlanes: (DiscPlane | null)[] = [];
  private discPlaneShown = false;
  private mrLines: (LevelLines | null)[] = [];
  private ctGeometry: { yFirst: number; zTop: number } | null = null;
  private overlay: OverlayState = { current: 0, labels: [], suggestionBox: null, readerBox: null, showSuggestions: true };
  private drawings: SagittalDrawings;
  private destroyed = false;
  private firstSeen = new Set<ViewportKey>();

  private constructor(
    private readonly elements: Record<ViewportKey, HTMLDivElement>,
    private readonly callbacks: ViewerCallbacks,
  ) {
    this.engine = new RenderingEngine(`reading-${this.id}`);
    this.drawings = new SagittalDrawings({
      geometry: () => this.ctGeometry,
      viewport: () => this.viewport("ctSagittal") as Types.IVolumeViewport,
      isDestroyed: () => this.destroyed,
      onBoxDrawn: (box) => this.callbacks.onBoxDrawn?.(box),
      onCaliper: (points) => this.callbacks.onCaliper?.(points),
    });
    this.ids = {
      ctAxial: `ct-axial-${this.id}`,
      mrAxial: `mr-axial-${this.id}`,
      ctSagittal: `ct-sagittal-${this.id}`,
      mrSagittal: `mr-sagittal-${this.id}`,
      ctDisc: `ct-disc-${this.id}`,
    };
  }

  /** Initialises Cornerstone (once per page) and enables the four viewports with their tools. */
  static async create(elements: Record<ViewportKey, HTMLDivElement>, callbacks: ViewerCallbacks): Promise<ReadingViewer> {
    await initCornerstone();
    const viewer = new ReadingViewer(elements, callbacks);
    viewer.enable();
    return viewer;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  private enable(): void {
    const { STACK, ORTHOGRAPHIC } = Enums.ViewportType;
    const background: Types.Point3 = [0, 0, 0];
    const orientation = { ctSagittal: Enums.OrientationAxis.SAGITTAL, ctDisc: Enums.OrientationAxis.AXIAL };
    this.engine.setViewports(
      (Object.keys(this.ids) as ViewportKey[]).map((key) => ({
        viewportId: this.ids[key],
        element: this.elements[key],
        type: VOLUME_VIEWS.includes(key) ? ORTHOGRAPHIC : STACK,
        defaultOptions: VOLUME_VIEWS.includes(key)
          ? { orientation: orientation[key as "ctSagittal" | "ctDisc"], background }
          : { background },
      })),
    );
    for (const key of Object.keys(this.ids) as ViewportKey[]) {
      const element = this.elements[key];
      const noMenu = (event: Event) => event.preventDefault();
      element.addEventListener("contextmenu", noMenu);
      const rendered = () => this.onRendered(key);
      element.addEventListener(Enums.Events.IMAGE_RENDERED, rendered);
      const newImage = () => this.reportSlice(key);
      element.addEventListener(Enums.Events.STACK_NEW_IMAGE, newImage);
      const pointAt = (event: MouseEvent) => this.linkCursor(key, event);
      element.addEventListener("dblclick", pointAt);
      this.listeners.push(() => {
        element.removeEventListener("contextmenu", noMenu);
        element.removeEventListener(Enums.Events.IMAGE_RENDERED, rendered);
        element.removeEventListener(Enums.Events.STACK_NEW_IMAGE, newImage);
        element.removeEventListener("dblclick", pointAt);
      });
      if (key === "ctSagittal" || key === "mrSagittal") {
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.classList.add("level-overlay");
        element.parentElement?.appendChild(svg);
        this.svgs[key] = svg;
      }
    }
    this.setUpTools();
    const onRoi = (event: Event) => this.drawings.onAnnotationEvent(event as CustomEvent);
    for (const name of [ToolEnums.Events.ANNOTATION_COMPLETED, ToolEnums.Events.ANNOTATION_MODIFIED]) {
      eventTarget.addEventListener(name, onRoi);
      this.listeners.push(() => eventTarget.removeEventListener(name, onRoi));
    }
  }

  private setUpTools(): void {
    const { Primary, Secondary, Auxiliary, Wheel } = ToolEnums.MouseBindings;
    const stackGroup = ToolGroupManager.createToolGroup(this.stackGroupId)!;
    const sagittalGroup = ToolGroupManager.createToolGroup(this.sagittalGroupId)!;
    for (const group of [stackGroup, sagittalGroup]) {
      for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool]) group.addTool(tool.toolName);
      group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: Auxiliary }] });
      group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: Secondary }] });
      group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: Wheel }] });
    }
    stackGroup.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: Primary }] });
    // On the CT sagittal the left button draws the level's ROI box, ctrl + left a caliper, shift +
    // left sets the window.
    sagittalGroup.addTool(RectangleROITool.toolName);
    sagittalGroup.setToolActive(RectangleROITool.toolName, { bindings: [{ mouseButton: Primary }] });
    sagittalGroup.addTool(LengthTool.toolName);
    sagittalGroup.setToolActive(LengthTool.toolName, {
      bindings: [{ mouseButton: Primary, modifierKey: ToolEnums.KeyboardBindings.Ctrl }],
    });
    sagittalGroup.setToolActive(WindowLevelTool.toolName, {
      bindings: [{ mouseButton: Primary, modifierKey: ToolEnums.KeyboardBindings.Shift }],
    });
    for (const key of ["ctAxial", "mrAxial", "mrSagittal", "ctDisc"] as ViewportKey[]) stackGroup.addViewport(this.ids[key], this.engine.id);
    sagittalGroup.addViewport(this.ids.ctSagittal, this.engine.id);
  }

  private viewport(key: ViewportKey) {
    return this.engine.getViewport(this.ids[key]);
  }

  /** Whether a view shows images: a volume view once it has the CT volume, a stack once it has its series. */
  private shows(key: ViewportKey): boolean {
    if (VOLUME_VIEWS.includes(key)) return (this.viewport(key) as Types.IVolumeViewport).getActors().length > 0;
    return Boolean(this.stacks[key]);
  }

  private stackViewport(key: ViewportKey): Types.IStackViewport {
    return this.engine.getViewport(this.ids[key]) as Types.IStackViewport;
  }

  /** Fetches each series' metadata and shows its stack at the given level as soon as it has it
   * (the CT does not wait for the MR), then loads every image, the CT volume included. */
  async load(series: ViewerSeries, levels: LevelIndex[], current: number): Promise<void> {
    const at = levels[current] ?? { ct: null, mr: null };
    const show = async (key: "ctAxial" | "mrAxial" | "mrSagittal", index: (ids: string[]) => number | null) => {
      const metadata = await series[key];
      if (!metadata || this.destroyed) return [];
      const imageIds = registerStack(metadata);
      if (!imageIds.length) return [];
      this.stacks[key] = imageIds;
      if (key === "ctAxial") {
        this.ctPlanes = levels.map((l) => l.ctPlane ?? null);
        this.ctLines = levels.map((l) => l.ctLine ?? levelLine(l.ct === null ? undefined : imageIds[l.ct]));
        this.ctGeometry = this.computeCtGeometry(imageIds);
      }
      if (key === "mrAxial") this.mrLines = levels.map((l) => l.mrLine ?? levelLine(l.mr === null ? undefined : imageIds[l.mr]));
      await this.stackViewport(key).setStack(imageIds, index(imageIds) ?? Math.floor(imageIds.length / 2));
      if (this.destroyed) return [];
      if (key === "ctAxial") this.setPreset("ctBone");
      this.viewport(key).render();
      return imageIds;
    };
    const [ct, mr, sag] = await Promise.all([
      show("ctAxial", () => at.ct),
      show("mrAxial", () => at.mr),
      show("mrSagittal", () => null),
    ]);
    if (this.destroyed) return;
    this.redraw("mrSagittal");
    const everything: Promise<unknown>[] = [...mr, ...sag].map((id) => imageLoader.loadAndCacheImage(id));
    if (ct.length) everything.push(this.loadCtVolume(ct));
    await Promise.all(everything);
    if (!this.destroyed) this.callbacks.onAllLoaded?.();
  }

  private async loadCtVolume(imageIds: string[]): Promise<void> {
    const volume = await volumeLoader.createAndCacheVolume(this.volumeId, { imageIds });
    if (this.destroyed) return;
    const done = new Promise<void>((resolve) => {
      volume.load(() => resolve());
    });
    const viewport = this.viewport("ctSagittal") as Types.IVolumeViewport;
    await viewport.setVolumes([{ volumeId: this.volumeId }]);
    if (this.destroyed) return;
    viewport.setProperties({ voiRange: voiRangeOf("ctBone") });
    viewport.render();
    if (this.discPlaneShown) void this.setDiscPlaneShown(true);
    await done;
  }

  /** The disc-plane view on or off; it takes the CT volume only when first shown (the case opens
   * without it). */
  async setDiscPlaneShown(shown: boolean): Promise<void> {
    this.discPlaneShown = shown;
    if (!shown || !this.shows("ctSagittal") || this.destroyed) return;
    if (!this.shows("ctDisc")) {
      const viewport = this.viewport("ctDisc") as Types.IVolumeViewport;
      await viewport.setVolumes([{ volumeId: this.volumeId }]);
      if (this.destroyed) return;
      viewport.setProperties({ voiRange: voiRangeOf("ctBone") });
    }
    this.showDiscPlane(this.ctPlanes[this.overlay.current]);
  }

  /** The disc-plane view through this disc (none placed: it stays where it is). */
  private showDiscPlane(plane: DiscPlane | null | undefined): void {
    if (!plane || this.destroyed || !this.shows("ctDisc")) return;
    const viewport = this.viewport("ctDisc");
    viewport.setCamera(discPlaneCamera(plane));
    viewport.render();
  }

  /** The double-clicked point: the other views of the same study go to it. */
  private linkCursor(key: ViewportKey, event: MouseEvent): void {
    const group = LINKED.find((keys) => keys.includes(key));
    if (!group || this.destroyed) return;
    const rect = this.elements[key].getBoundingClientRect();
    const world = this.viewport(key).canvasToWorld([event.clientX - rect.left, event.clientY - rect.top]) as Point3;
    for (const other of group) {
      if (other !== key && this.shows(other)) (this.viewport(other) as Types.IStackViewport).jumpToWorld(world);
    }
  }

  private computeCtGeometry(ct: string[]): { yFirst: number; zTop: number } | null {
    const planes = ct.map((id) => metaData.get("imagePlaneModule", id) as Plane | undefined);
    if (!planes.length || planes.some((p) => !p?.imagePositionPatient)) return null;
    return {
      yFirst: planes[0]!.imagePositionPatient[1],
      zTop: Math.max(...planes.map((p) => p!.imagePositionPatient[2])),
    };
  }

  private onRendered(key: ViewportKey): void {
    if (!this.firstSeen.has(key)) {
      const viewport = this.viewport(key);
      const hasImage = VOLUME_VIEWS.includes(key) ? true : Boolean((viewport as Types.IStackViewport).getCornerstoneImage?.());
      if (hasImage) {
        this.firstSeen.add(key);
        this.callbacks.onFirstImage?.(key);
        this.reportSlice(key);
      }
    }
    if (key === "ctSagittal" || key === "mrSagittal") this.redraw(key);
  }

  private reportSlice(key: ViewportKey): void {
    const ids = this.stacks[key];
    if (!ids || VOLUME_VIEWS.includes(key)) return;
    this.callbacks.onSlice?.(key, this.stackViewport(key).getCurrentImageIdIndex(), ids.length);
  }

  /** Both axial stacks to one level (by index: the levels were located in each stack on its own). */
  goToLevel(level: LevelIndex): void {
    if (level.ct !== null && this.stacks.ctAxial) void this.stackViewport("ctAxial").setImageIdIndex(level.ct);
    if (level.mr !== null && this.stacks.mrAxial) void this.stackViewport("mrAxial").setImageIdIndex(level.mr);
    this.showDiscPlane(level.ctPlane);
  }

  /** A level moved (a reader's correction): its lines redrawn and both axial stacks sent to it. */
  updateLevel(index: number, level: LevelIndex): void {
    const stackLine = (key: "ctAxial" | "mrAxial", at: number | null) =>
      levelLine(at === null ? undefined : this.stacks[key]?.[at]);
    this.ctLines[index] = level.ctLine ?? stackLine("ctAxial", level.ct);
    this.ctPlanes[index] = level.ctPlane ?? null;
    this.mrLines[index] = level.mrLine ?? stackLine("mrAxial", level.mr);
    this.goToLevel(level);
    this.redraw("ctSagittal");
    this.redraw("mrSagittal");
  }

  /** The centre and normal (patient mm) of the axial image a stack shows now: where a reader places a
   * level the finder could not find. */
  axialCentre(key: "ctAxial" | "mrAxial"): { centre: Point3; normal: Point3 } | null {
    const ids = this.stacks[key];
    if (!ids) return null;
    const line = levelLine(ids[this.stackViewport(key).getCurrentImageIdIndex()]);
    const plane = metaData.get("imagePlaneModule", ids[0]) as Plane | undefined;
    if (!line || !plane) return null;
    const [r, c] = [plane.rowCosines, plane.columnCosines];
    let normal: Point3 = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
    if (normal[2] < 0) normal = [-normal[0], -normal[1], -normal[2]];
    return { centre: line.centre, normal };
  }

  scroll(key: "ctAxial" | "mrAxial", delta: number): void {
    if (this.stacks[key]) this.stackViewport(key).scroll(delta);
  }

  setPreset(preset: Preset): void {
    if (preset === "mrAuto") {
      for (const key of ["mrAxial", "mrSagittal"] as ViewportKey[]) {
        const viewport = this.stackViewport(key);
        const image = this.stacks[key] ? viewport.getCornerstoneImage?.() : null;
        if (!image) continue;
        viewport.setProperties({ voiRange: { lower: image.minPixelValue, upper: image.maxPixelValue } });
        viewport.render();
      }
      return;
    }
    const voiRange = voiRangeOf(preset);
    for (const key of ["ctAxial", ...VOLUME_VIEWS] as ViewportKey[]) {
      if (!this.shows(key)) continue;
      const viewport = this.viewport(key) as Types.IStackViewport | Types.IVolumeViewport;
      viewport.setProperties({ voiRange });
      viewport.render();
    }
  }

  resetView(): void {
    for (const key of Object.keys(this.ids) as ViewportKey[]) {
      if (!this.shows(key)) continue;
      this.viewport(key).resetCamera();
      this.viewport(key).render();
    }
    this.showDiscPlane(this.ctPlanes[this.overlay.current]);
  }

  /** What the sagittal overlays show: level lines, the current level, the model's and the reader's box. */
  setOverlay(next: Partial<OverlayState>): void {
    const levelChanged = next.current !== undefined && next.current !== this.overlay.current;
    this.overlay = { ...this.overlay, ...next };
    if (levelChanged) this.drawings.clear();
    this.redraw("ctSagittal");
    this.redraw("mrSagittal");
  }

  private redraw(key: "ctSagittal" | "mrSagittal"): void {
    const svg = this.svgs[key];
    if (!svg || this.destroyed) return;
    const viewport = this.viewport(key);
    const ready = this.shows(key);
    const toCanvas = (p: Point3) => viewport.worldToCanvas(p) as [number, number];
    const lines = key === "ctSagittal" ? this.ctLines : this.mrLines;
    drawOverlay(svg, {
      ready,
      lines,
      toCanvas,
      state: this.overlay,
      boxToCorners: key === "ctSagittal" ? (box) => this.drawings.boxCorners(box) : null,
      showReaderBox: !this.drawings.drawing,
      draggable: Boolean(this.callbacks.onLevelDragged),
    });
    const grip = svg.querySelector<SVGLineElement>(".level-grip");
    const line = lines[this.overlay.current];
    if (grip && line) this.makeDraggable(key, grip, line);
  }

  /** Dragging the grip moves the line along the disc's normal (in the sagittal plane); on release
   * the distance goes to onLevelDragged, which saves it as the reader's correction. */
  private makeDraggable(key: "ctSagittal" | "mrSagittal", grip: SVGLineElement, line: LevelLines): void {
    const viewport = this.viewport(key);
    const element = this.elements[key];
    const along: Point3 = [line.to[0] - line.from[0], line.to[1] - line.from[1], line.to[2] - line.from[2]];
    let normal: Point3 = [0, -along[2], along[1]];
    const length = Math.hypot(...normal) || 1;
    normal = normal.map((v) => v / length) as Point3;
    if (normal[2] < 0) normal = normal.map((v) => -v) as Point3;
    const world = (event: PointerEvent): Point3 => {
      const rect = element.getBoundingClientRect();
      return viewport.canvasToWorld([event.clientX - rect.left, event.clientY - rect.top]) as Point3;
    };
    grip.addEventListener("pointerdown", (down: PointerEvent) => {
      down.preventDefault();
      down.stopPropagation();
      grip.setPointerCapture(down.pointerId);
      const start = world(down);
      const drawn = Array.from(grip.parentElement?.querySelectorAll("line") ?? []);
      let mm = 0;
      const move = (event: PointerEvent) => {
        const at = world(event);
        mm = (at[0] - start[0]) * normal[0] + (at[1] - start[1]) * normal[1] + (at[2] - start[2]) * normal[2];
        const shift = (p: Point3): Point3 => [p[0] + normal[0] * mm, p[1] + normal[1] * mm, p[2] + normal[2] * mm];
        const [a, b] = [viewport.worldToCanvas(shift(line.from)), viewport.worldToCanvas(shift(line.to))];
        for (const drawnLine of drawn) {
          drawnLine.setAttribute("x1", String(a[0]));
          drawnLine.setAttribute("y1", String(a[1]));
          drawnLine.setAttribute("x2", String(b[0]));
          drawnLine.setAttribute("y2", String(b[1]));
        }
      };
      const up = () => {
        grip.removeEventListener("pointermove", move);
        grip.removeEventListener("pointerup", up);
        if (Math.abs(mm) >= 0.2) this.callbacks.onLevelDragged?.(key === "ctSagittal" ? "CT" : "MR", Math.round(mm * 10) / 10);
        else this.redraw(key);
      };
      grip.addEventListener("pointermove", move);
      grip.addEventListener("pointerup", up);
    });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.drawings.destroy();
    this.listeners.forEach((remove) => remove());
    Object.values(this.svgs).forEach((svg) => svg?.remove());
    ToolGroupManager.destroyToolGroup(this.stackGroupId);
    ToolGroupManager.destroyToolGroup(this.sagittalGroupId);
    this.engine.destroy();
    if (cache.getVolume(this.volumeId)) cache.removeVolumeLoadObject(this.volumeId);
  }
}
