// SVG drawn over the sagittal views: a line per level (where its axial image cuts the sagittal
// plane), the current level highlighted, the model's box (dashed) and the reader's box.
import type { Types } from "@cornerstonejs/core";

type Point3 = Types.Point3;
type Box = [number, number, number, number];

export interface LevelLines {
  centre: Point3;
  from: Point3;
  to: Point3;
}

export interface OverlayState {
  current: number;
  labels: string[];
  suggestionBox: Box | null;
  readerBox: Box | null;
  showSuggestions: boolean;
}

interface DrawInput {
  ready: boolean;
  lines: (LevelLines | null)[];
  toCanvas: (point: Point3) => [number, number];
  state: OverlayState;
  boxToCorners: ((box: Box) => [Point3, Point3] | null) | null;
  showReaderBox: boolean;
  draggable?: boolean;
}

const NS = "http://www.w3.org/2000/svg";

function element(name: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function rect(input: DrawInput, box: Box, attributes: Record<string, string | number>): SVGElement | null {
  const corners = input.boxToCorners?.(box);
  if (!corners) return null;
  const [a, b] = corners.map(input.toCanvas);
  return element("rect", {
    x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]),
    width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]), ...attributes,
  });
}

export function drawOverlay(svg: SVGSVGElement, input: DrawInput): void {
  svg.replaceChildren();
  if (!input.ready) return;
  const { state } = input;
  input.lines.forEach((line, k) => {
    if (!line) return;
    const [x1, y1] = input.toCanvas(line.from);
    const [x2, y2] = input.toCanvas(line.to);
    const current = k === state.current;
    const group = element("g", { class: current ? "level current" : "level", "data-level": state.labels[k] ?? k });
    group.appendChild(element("line", { x1, y1, x2, y2 }));
    // The current level's line can be dragged up or down the spine (a wide, invisible grip).
    if (current && input.draggable) group.appendChild(element("line", { x1, y1, x2, y2, class: "level-grip", "data-testid": "level-grip" }));
    const left = x1 < x2 ? [x1, y1] : [x2, y2];
    group.appendChild(element("text", { x: left[0] + 4, y: left[1] - 3 }, state.labels[k] ?? ""));
    svg.appendChild(group);
  });
  if (state.showSuggestions && state.suggestionBox) {
    const box = rect(input, state.suggestionBox, { class: "suggestion-box", "data-testid": "suggestion-box" });
    if (box) svg.appendChild(box);
  }
  if (input.showReaderBox && state.readerBox) {
    const box = rect(input, state.readerBox, { class: "reader-box", "data-testid": "reader-box" });
    if (box) svg.appendChild(box);
  }
}
