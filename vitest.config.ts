import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { configDefaults, defineConfig } from "vitest/config";
import { TEST_PUBLISH_TOKEN } from "./test/edge/token.js";

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { PUBLISH_TOKEN: TEST_PUBLISH_TOKEN } },
          }),
        ],
        test: {
          name: "workerd",
          testTimeout: 30_000,
          include: ["test/edge/**/*.test.ts", "test/format/**/*.test.ts", "test/lib/**/*.test.ts"],
          // src/lib is Web-API only (the Worker bundles it) but for its Node files, tested in Node only.
          exclude: [
            ...configDefaults.exclude,
            "test/lib/atomic-file.test.ts",
            "test/lib/sha256-native.test.ts",
          ],
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          globalSetup: ["test/cli/global-setup.ts"],
          testTimeout: 60_000,
          include: [
            "test/format/**/*.test.ts",
            "test/{publish,client,cli,lib}/**/*.test.ts",
            "test/boot/**/*.test.ts",
            "test/bench/**/*.test.ts",
          ],
        },
      },
    ],
  },
});
