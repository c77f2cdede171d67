/** undici's connector factory, imported alone (the package's entry also loads fetch, WebSocket, caches and mocks). */
declare module "undici/lib/core/connect.js" {
  const buildConnector: typeof import("undici").buildConnector;
  export default buildConnector;
}
