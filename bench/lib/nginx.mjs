// A private nginx (Debian's) serving a directory on 127.0.0.1, run as a child process with a
// generated configuration: one worker, sendfile, keep-alive, no access log, tcp_nopush off (with
// Debian's `on` nginx stalls 40 ms on delayed ACKs: BASELINES.md), and stub_status for request
// and connection counts.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { freePort } from "./run.mjs";

export function nginxVersion() {
  const r = spawnSync("nginx", ["-v"]);
  return (r.stderr?.toString() ?? "").replace("nginx version: ", "").trim() || "nginx";
}

/** The configuration, as written to `$dir/nginx.conf`. */
export function nginxConfig({ root, dir, port }) {
  const user = process.getuid?.() === 0 ? "user root root;\n" : "";
  return `${user}worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }
http {
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  client_body_temp_path ${join(dir, "tmp")};
  proxy_temp_path ${join(dir, "tmp")};
  fastcgi_temp_path ${join(dir, "tmp")};
  uwsgi_temp_path ${join(dir, "tmp")};
  scgi_temp_path ${join(dir, "tmp")};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location = /nginx_status { stub_status; }
  }
}
`;
}

/**
 * Starts nginx serving `root`, its files in `dir`; resolves once it answers. Returns its URL,
 * `status()` (accepted connections and requests so far, from stub_status), `since(a, b)`
 * (what clients did between two statuses) and `stop()`.
 */
export async function startNginx({ root, dir }) {
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig({ root, dir, port }));
  const argv = ["-e", join(dir, "error.log"), "-c", conf, "-p", dir, "-g", "daemon off;"];
  const child = spawn("nginx", argv, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  let exited = false;
  const exit = new Promise((resolve) =>
    child.on("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  // Each status request comes on a connection of its own (agent: false), so between two calls
  // the counts grow by what clients did plus one connection and one request: `since` subtracts it.
  const status = () =>
    new Promise((resolve, reject) => {
      get(`${url}/nginx_status`, { agent: false }, (response) => {
        let text = "";
        response.on("data", (d) => {
          text += d;
        });
        response.on("end", () => {
          const [connections, , requests] = text.split("\n")[2].trim().split(/\s+/).map(Number);
          resolve({ connections, requests });
        });
      }).on("error", reject);
    });
  const since = (before, after) => ({
    connections: after.connections - before.connections - 1,
    requests: after.requests - before.requests - 1,
  });
  for (let tries = 0; ; tries++) {
    if (exited) throw new Error(`nginx ${argv.join(" ")} exited:\n${stderr}`);
    try {
      await status();
      break;
    } catch (error) {
      if (tries > 100) throw new Error(`nginx did not answer on ${url}: ${error}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    port,
    conf,
    command: `nginx ${argv.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")}`,
    status,
    since,
    async stop() {
      if (!exited) child.kill("SIGQUIT");
      await exit;
      return readFileSync(join(dir, "error.log"), "utf8");
    },
  };
}
