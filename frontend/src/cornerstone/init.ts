// Cornerstone3D, started once per page: core, tools, then the DICOM image loader (RECIPES' order),
// and the tools the reading view uses. Every caller awaits the same promise, so React's StrictMode
// double mount and quick page changes never start it twice (the image loader's init purges the cache).
import { init as coreInit } from "@cornerstonejs/core";
import {
  LengthTool,
  PanTool,
  RectangleROITool,
  StackScrollTool,
  WindowLevelTool,
  ZoomTool,
  addTool,
  init as toolsInit,
} from "@cornerstonejs/tools";
import { init as dicomImageLoaderInit } from "@cornerstonejs/dicom-image-loader";

let started: Promise<void> | null = null;

export function initCornerstone(): Promise<void> {
  if (!started) {
    started = (async () => {
      await coreInit();
      await toolsInit();
      await dicomImageLoaderInit({ maxWebWorkers: Math.min(2, navigator.hardwareConcurrency || 1) });
      for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, RectangleROITool, LengthTool]) addTool(tool);
    })();
    started.catch(() => {
      started = null; // a later page may try again
    });
  }
  return started;
}
