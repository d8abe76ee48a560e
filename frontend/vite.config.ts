/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into Django's static folder under fixed names: templates/workflow.html
// loads /static/build/app.js and /static/build/app.css, so no hashes and no
// manifest. One entry, one chunk: the page is the whole app.
export default defineConfig({
  plugins: [react()],
  base: "/static/build/",
  build: {
    outDir: "../static/build",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    cssCodeSplit: false,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      input: "src/main.tsx",
      output: {
        format: "es",
        entryFileNames: "app.js",
        chunkFileNames: "app-[name].js",
        assetFileNames: (asset) => (asset.names?.some((n) => n.endsWith(".css")) ? "app.css" : "assets/[name][extname]"),
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
