import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into dist/, which Django serves under /static/ (whitenoise); index.html is the SPA shell.
export default defineConfig({
  base: "/static/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, target: "esnext" },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/dicomweb": "http://127.0.0.1:8000" } },
});
