/** The PUBLISH_TOKEN of the Worker under test (set in vitest.config.ts). */
export const TEST_PUBLISH_TOKEN = "test-publish-token-0123456789abcdef";
