import { defineConfig } from "vitest/config";

// Pure modules only (decode, colour, geometry, rasterising, the head store): node, no browser.
// The views are tested in real Chromium by tests/browser (pytest + Playwright).
export default defineConfig({
  test: {
    include: ["tests/js/**/*.test.ts"],
    environment: "node",
  },
});
