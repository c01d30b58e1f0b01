import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into dist/, which Django serves under /static/ (whitenoise); index.html is the SPA shell.
// Cornerstone3D: the DICOM image loader ships its own web worker and WASM codecs, so Vite must not
// pre-bundle it; workers are ES modules. The dev server needs the `include` list below or it loads
// two copies of @cornerstonejs/metadata (see RECIPES "Cornerstone3D 5.14 in headless Chromium").
export default defineConfig({
  base: "/static/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "esnext", chunkSizeWarningLimit: 6000 },
  worker: { format: "es" },
  optimizeDeps: {
    exclude: ["@cornerstonejs/dicom-image-loader"],
    include: [
      "dicom-parser",
      "@cornerstonejs/core",
      "@cornerstonejs/metadata",
      "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs",
      "@cornerstonejs/codec-charls/decodewasmjs",
      "@cornerstonejs/codec-openjpeg/decodewasmjs",
      "@cornerstonejs/codec-openjph/wasmjs",
      "@cornerstonejs/codec-libjxl/decodewasmjs",
    ],
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/dicomweb": "http://127.0.0.1:8000" } },
});
