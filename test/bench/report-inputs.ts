// Fixed measurements for the bench reports (test/bench/reports.test.ts): made-up numbers in the
// shapes bench/*.mjs measure, so that each report renders without running a benchmark. The numbers
// follow simple formulas (no randomness), chosen to reach every branch the reports have.

const MiB = 2 ** 20;
const CHUNK = 256 * 1024;
const round2 = (v: number) => Math.round(v * 100) / 100;

// ---------------------------------------------------------------------------------------------
// bench/boot.mjs: the busybox rows (bench/lib/boot-report.mjs)

const PHASE_KEYS = ["start", "kernel", "init", "mount", "exec", "run"];
const BOOT_FACTOR: Record<string, number> = { cold: 3, warm: 1.2, prefetch: 1.5, peer: 1 };

function busyboxBoot(image: string, imageIndex: number, kind: string, round: number) {
  const k = BOOT_FACTOR[kind]! * (1 + 0.05 * round + 0.11 * imageIndex);
  const distinct = { chunks: 60 + 40 * imageIndex, bytes: (60 + 40 * imageIndex) * CHUNK - 4096 };
  const cached = kind === "prefetch" ? 50 + 30 * imageIndex + round : 40 + 25 * imageIndex + round;
  return {
    image,
    kind,
    round,
    args: [
      "-machine",
      "q35,accel=tcg",
      "-kernel",
      "/kernels/6.1.0/vmlinuz",
      "-initrd",
      "/cache/boot-runs/initramfs.cpio.gz",
      "-append",
      "console=ttyS0 root=/dev/vda ro",
      "-drive",
      `file=nbd://127.0.0.1:${40100 + round}/${image},if=virtio,format=raw`,
      "-serial",
      "file:/cache/boot-runs/console.log",
    ],
    wholeMs: Math.round(4000 * k),
    rootfsMs: Math.round(2500 * k),
    diskMs: Math.round(1400 * k),
    phases: Object.fromEntries(PHASE_KEYS.map((key, i) => [key, Math.round(k * (300 + 170 * i))])),
    http:
      kind === "peer"
        ? undefined
        : {
            chunkRequests: kind === "warm" ? 0 : cached + 3,
            bytes: kind === "warm" ? 0 : (cached + 3) * 90_000,
            startRequests: 3,
            busyMs: kind === "warm" ? 0 : Math.round(900 * k),
            chunksBeforeDisk: kind === "prefetch" ? 30 + round : 2,
            chunksAfterDisk: kind === "prefetch" ? 4 + round : cached,
            lastChunkEndMs: Math.round(3700 * k),
            duplicates: kind === "cold" && round === 2 ? 1 : 0,
          },
    coverage: {
      size: 64 * MiB,
      chunks: 256,
      distinct,
      cached: { chunks: cached, bytes: cached * CHUNK - 1024 * imageIndex },
    },
    usage: { compressedMiB: round2((cached * CHUNK * 0.41) / MiB) },
    prefetch:
      kind === "prefetch"
        ? { chunks: 48 + 30 * imageIndex, seconds: 0.8 + 0.1 * round }
        : undefined,
  };
}

/** The input of bench/lib/boot-report.mjs's render(). */
export function bootInput() {
  const names = ["alpha", "scatter"];
  const images = names.map((name, i) => ({
    name,
    made:
      i === 0
        ? "scripts/boot/rootfs.mjs `buildRootfs(ROOTFS_VARIANTS.alpha)`"
        : "bench/lib/boot-images.mjs",
    description: `${name}: a root filesystem of ${32 * (i + 1)} MiB`,
    publish: `chunks 256\nnew   ${120 + i} chunks, ${(12.5 + i).toFixed(1)} MiB uploaded\n`,
    republish: `prefetch   ${48 + 30 * i} chunks\nnew   0 chunks, 0.0 MiB uploaded\n`,
    readFiles: i === 1 ? 900 : undefined,
    readBytes: i === 1 ? 11 * MiB + 12345 : undefined,
    recordBoot: {} as Record<string, unknown>,
  }));
  const boots = [];
  for (const [i, image] of images.entries()) {
    image.recordBoot = {
      ...busyboxBoot(image.name, i, "cold", 1),
      read: { chunks: 36 + 20 * i, bytes: (36 + 20 * i) * CHUNK - 777 },
    };
    boots.push(image.recordBoot);
  }
  const orders = [
    ["cold", "warm", "prefetch", "peer"],
    ["prefetch", "peer", "cold", "warm"],
  ];
  for (const [r, order] of orders.entries()) {
    for (const [i, image] of images.entries()) {
      for (const kind of order) {
        if (kind === "cold" && r === 0) continue;
        boots.push(busyboxBoot(image.name, i, kind, r + 1));
      }
    }
  }
  return {
    images,
    boots,
    proxy: { url: "http://127.0.0.1:39999", rttMs: 50 },
    peerNote: "nbdkit 1.32.5 serves the peer rows",
    kernel: { root: "/kernels/6.1.0", version: "6.1.0-28-cloud-amd64" },
    loads: ["at the start 1.10 0.90 0.80", "at the end 1.60 1.20 0.95"],
    work: "/cache/boot-runs",
    nbdArgs: [] as string[],
    versions: ["QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", "nbdkit 1.32.5"],
  };
}

// ---------------------------------------------------------------------------------------------
// bench/boot.mjs: the Debian rows (bench/lib/debian-report.mjs)

const STEP_KEYS = ["kernel", "init", "modules", "network", "fetcher", "attach", "root", "systemd"];
const DEBIAN_FACTOR: Record<string, number> = { cold: 1.4, warm: 1, prefetch: 1.1 };

function debianBoot(kind: string, round: number) {
  const k = DEBIAN_FACTOR[kind]! * (1 + 0.04 * round);
  const steps = Object.fromEntries(
    STEP_KEYS.map((key, i) => [key, Math.round(k * (1500 + 900 * i))]),
  );
  const markerMs = Math.round(k * 60_000);
  const fetched = kind === "warm" ? 0 : 240 + round + (kind === "prefetch" ? 6 : 0);
  const touched = 236 + round;
  return {
    kind,
    round,
    markerMs,
    exitMs: markerMs + 2100 + 100 * round,
    poweredOff: !(kind === "warm" && round === 2),
    args: [
      "-kernel",
      "/srv/kernels/vmlinuz",
      "-initrd",
      "/cache/boot-runs/debian/initrd.img",
      "-append",
      "console=ttyS0 edgeboot.sig=c2lnbmF0dXJl edgeboot.record=boot-record.json",
      "-netdev",
      "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:41234",
      "-drive",
      `file=/cache/boot-runs/debian/r${round}-${kind}-cache.img,if=virtio,format=raw`,
    ],
    steps: { ...steps, marker: Math.round(k * 9000) },
    at: { root: Math.round(k * 30_000), systemd: Math.round(k * 33_000) },
    http: {
      chunkRequests: fetched + (kind === "cold" ? 2 : 0),
      distinctChunks: fetched,
      chunkBytes: fetched * 95_000,
      chunkRequestsToMarker: fetched,
      chunksAfterSystemd: kind === "prefetch" ? 3 : kind === "warm" ? 0 : 90 + round,
      lastChunkEndMs: Math.round(k * 50_000),
      chunksBeforeAttach: kind === "prefetch" ? 200 + round : 0,
    },
    guestRead: { reads: 4000 + 10 * round, bytes: 48 * MiB + 1000 * round },
    cpu: {
      listening: { user: 4.1 * k, sys: 1.2 * k, total: 5.3 * k },
      "root mounted": { user: 4.6 * k, sys: 1.3 * k, total: 5.9 * k },
      marker: { user: 14 * k, sys: 6.5 * k, total: 20.5 * k },
    },
    touched: { chunks: touched, bytes: touched * CHUNK },
    coverage: {
      chunks: 2048,
      distinct: { chunks: 1900, bytes: 1900 * CHUNK - 8192 },
      cached: { chunks: kind === "warm" ? 246 + round : fetched },
    },
  };
}

/** The input of bench/lib/debian-report.mjs's renderDebian(). */
export function debianInput(standalone: boolean) {
  const orders = [
    ["cold", "warm", "prefetch"],
    ["prefetch", "cold", "warm"],
  ];
  const boots: Record<string, unknown>[] = orders.flatMap((order, r) =>
    order.map((kind) => debianBoot(kind, r + 1)),
  );
  boots.push({ kind: "cold", round: 3, failed: "no marker within 240 s" });
  const profiled = ["cold", "warm"].map((kind) => ({
    ...debianBoot(kind, 4),
    round: "p",
    profile:
      kind === "warm"
        ? []
        : [
            {
              thread: 0,
              total: 61.2,
              busy: 23.4,
              top: [
                ["(garbage collector)", 3.1],
                ["compileSourceTextModule (utils:344)", 1.9],
                ["digest (edgeboot.js:68)", 1.2],
              ],
            },
          ],
  }));
  return {
    debian: {
      image: { bytes: 512 * MiB, packages: ["systemd-sysv", "udev", "kmod", "iproute2", "libc6"] },
      initramfs: { bytes: 41 * MiB + 5000 },
      kernel: { version: "6.1.0-28-cloud-amd64" },
      prefetchList: 251,
    },
    proxy: { url: "http://127.0.0.1:41234", rttMs: 50 },
    boots,
    profiled: standalone ? [] : profiled,
    loads: ["at the start 1.10 0.90 0.80", "at the end 1.60 1.20 0.95"],
    work: "/cache/boot-runs",
    standalone,
    cache: "/cache",
    qemu: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)",
  };
}

// ---------------------------------------------------------------------------------------------
// bench/edge.mjs (bench/lib/edge-report.mjs)

const CHUNK_KEYS = ["nginx", "bare", "bare-fill", "miss", "stub", "hit"];
const CHUNK_RPS: Record<string, number> = {
  nginx: 5200,
  bare: 2100,
  "bare-fill": 1500,
  miss: 1400,
  stub: 1900,
  hit: 2300,
};

function wrkRun(rps: number, round: number, counted: boolean, r2Reads: number) {
  const requests = Math.round(rps * 3 * (1 + 0.03 * round));
  return {
    rps: requests / 3,
    mbps: (requests * 90_000) / 3 / 1e6,
    p50: 3.1 + 0.2 * round + 1000 / rps,
    p99: 9.4 + round + 20_000 / rps,
    serverCpu: (requests * 0.45) / rps,
    seconds: 3,
    requests,
    wrkCpu: 0.4 + 0.01 * round,
    counts: counted
      ? {
          r2: { get: r2Reads * requests, head: 0 },
          cache: { hit: r2Reads ? 0 : requests, put: r2Reads ? requests : 0 },
        }
      : undefined,
  };
}

/** The input of bench/lib/edge-report.mjs's render(). */
export function edgeInput() {
  const chunkConfigs = CHUNK_KEYS.map((key) => ({
    key,
    label: `${key} server`,
    runs: [0, 1, 2].map((r) =>
      wrkRun(
        CHUNK_RPS[key]! * (1 - 0.02 * r),
        r,
        ["miss", "stub", "hit"].includes(key),
        key === "hit" ? 0 : 1,
      ),
    ),
  }));
  const cold = {
    runs: [0, 1, 2].map((r) => {
      const run = wrkRun(900 - 20 * r, r, true, 1);
      return {
        ...run,
        counts: { r2: { get: run.requests, head: 0 }, cache: { hit: 0, put: run.requests } },
        bare: wrkRun(1100, r, false, 0),
      };
    }),
  };
  const imageConfigs = [256 * 1024, 2 * MiB].flatMap((size) =>
    ["nginx", "zstd", "gzip"].map((kind, i) => ({
      key: `${kind}-${size}`,
      size,
      kind,
      runs: [0, 1, 2].map((r) => {
        const run = wrkRun((size === CHUNK ? 800 : 120) / (1 + i), r, false, 0);
        if (kind === "nginx") return run;
        const requests = run.requests;
        return {
          ...run,
          counts: {
            r2: { get: requests, head: 0 },
            r2Gets: { refs: requests, chunks: 0 },
            cache: { hit: requests * (size === CHUNK ? 2 : 9) },
          },
        };
      }),
    })),
  );
  return {
    chunkConfigs,
    cold,
    imageConfigs,
    filled: {
      edge: { cache: { hit: 256 }, r2: { get: 0 } },
      edgeGzip: { cache: { hit: 256 }, r2: { get: 2 } },
    },
    frameBytes: [70_000, 91_000, 120_000, 262_200, 33_000, 101_000],
    setup: {
      commands: [
        "EDGEBOOT_TOKEN=… node bin/edgeboot.js publish /cache/edge-runs/image-64m.img --name bench --edge http://127.0.0.1:41001",
        "node bin/edgeboot.js publish /cache/edge-runs/image-64m.img --name bench --out /cache/edge-runs/www",
      ],
    },
    images: { made: "2026-11-20T10:00:00.000Z" },
    nginx: {
      version: "nginx/1.22.1",
      conf: "worker_processes 1;\nhttp {\n  server {\n    listen 127.0.0.1:8080;\n    root /cache/edge-runs/www;\n  }\n}\n",
      url: "http://127.0.0.1:8080",
    },
    wrk: "wrk debian/4.1.0-3+b2",
    runtime: "miniflare 4.20260426.0 (workerd 1.20260426.1)",
    settings: {
      seconds: 3,
      warmup: 1,
      connections: 8,
      threads: 1,
      viaEntry: false,
      imageBytes: 64 * MiB,
      warmBytes: 16 * MiB,
      rangesPerSize: 200,
      scratch: "/dev/shm/edgeboot-bench-edge",
      runsDir: "/cache/edge-runs",
      cuts: [
        "head -c 67108864 $CACHE/v1.img > $CACHE/edge-runs/image-64m.img",
        "tail -c +134217729 $CACHE/v1.img | head -c 16777216 > $CACHE/edge-runs/warm-16m.img",
      ],
      compatibilityDate: "2026-04-26",
      loadBefore: "1.12 1.28 1.36 1/97 31445",
      loadAfter: "1.12 1.20 1.31 1/128 31799",
      elapsed: 178.6,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// bench/fetch.mjs (bench/lib/fetch-report.mjs)

function fetchTiming(seconds: number, argv: string[], extra: Record<string, unknown> = {}) {
  return {
    seconds,
    argv,
    cpu: { user: seconds * 0.9, sys: seconds * 0.3, rssMb: 80 + seconds },
    http: { requests: 1025, connections: 8 },
    loopback: 280_000_000 + seconds * 1000,
    stdout: "",
    ...extra,
  };
}

/** The input of bench/lib/fetch-report.mjs's render(). */
export function fetchInput() {
  const url = "http://127.0.0.1:8123";
  const scratch = "/dev/shm/edgeboot-bench-fetch";
  const specs: [string, string, number, Record<string, unknown>][] = [
    ["casync", "casync extract", 6.2, { peer: true }],
    ["eb", "edgeboot fetch, cold cache", 2.4, { store: "edgeboot" }],
    ["eb-warm", "edgeboot fetch, warm cache", 1.1, { store: "edgeboot", coldKey: "eb" }],
    ["eb-j32", "edgeboot fetch --jobs 32, cold cache", 2.3, { store: "edgeboot" }],
    ["eb-cdc", "edgeboot fetch, cold cache, cdc store", 2.9, { store: "edgeboot-cdc" }],
    ["floor-curl", "floor: curl GETs every chunk", 0.9, { floor: "curl" }],
    ["floor-get", "floor: Node + undici GET every chunk", 1.2, { floor: "get" }],
    ["eb-rtt10", "edgeboot fetch, cold cache, 10 ms RTT", 2.5, { store: "edgeboot", rttMs: 10 }],
    ["casync-rtt10", "casync extract, 10 ms RTT", 45, { peer: true, rttMs: 10 }],
    ["eb-rtt50", "edgeboot fetch, cold cache, 50 ms RTT", 2.9, { store: "edgeboot", rttMs: 50 }],
    ["eb-rtt200", "edgeboot fetch, cold cache, 200 ms RTT", 4.1, { store: "edgeboot", rttMs: 200 }],
  ];
  const delays = [10, 50, 200].map((rttMs) => ({ rttMs, url: `http://127.0.0.1:9${rttMs}` }));
  const configs = specs.map(([key, label, seconds, extra]) => {
    const base = delays.find((d) => d.rttMs === extra.rttMs)?.url ?? url;
    const runs = [0, 1, 2].map((r) => {
      const s = seconds * (1 + 0.07 * ((r + key.length) % 3));
      const argv = extra.peer
        ? [
            "casync",
            "extract",
            "--seed-output=no",
            `--store=${base}/casync/store`,
            `${base}/casync/v1.caibx`,
            `${scratch}/r${r + 1}/casync.img`,
          ]
        : [
            "node",
            "bin/edgeboot.js",
            "fetch",
            `${base}/edgeboot`,
            "bench",
            "-o",
            `${scratch}/r${r + 1}/${key}.img`,
            "--label",
            "a b",
          ];
      const downloaded = extra.coldKey ? 0 : 1024;
      const proxied = extra.rttMs
        ? { peakInFlight: extra.peer ? 1 : 8 + (extra.rttMs as number) / 2 }
        : {};
      return fetchTiming(
        s,
        argv,
        extra.peer || extra.floor
          ? proxied
          : {
              downloaded,
              fromCache: 1024 - downloaded,
              cacheBytes: downloaded * 100_000,
              ...proxied,
            },
      );
    });
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    return { key, label, runs, best, ...extra };
  });
  const reads = (offset: number) =>
    Array.from({ length: 20 }, (_, i) => ({
      ms: 0.2 + ((i * 7 + offset) % 11) * 3.3,
      kind: i % 3 === 0 ? "repeat" : "first",
      chunk: i,
    }));
  return {
    configs,
    images: {
      files: 12000,
      membersInImage: 4100,
      sha256: { v1: "ab".repeat(32) },
      made: "2026-11-20T10:00:00.000Z",
    },
    stores: {
      casync: { lengths: Array(4096).fill(65536), files: { count: 4000, bytes: 100_000_000 } },
      edgeboot: { lengths: Array(1024).fill(CHUNK), files: { count: 1000, bytes: 98_000_000 } },
      "edgeboot-cdc": {
        lengths: Array(4000).fill(67108),
        files: { count: 3900, bytes: 99_000_000 },
      },
    },
    commands: [
      "node bin/edgeboot.js publish $CACHE/v1.img --name bench --out $CACHE/fetch-runs/www/edgeboot",
      "casync make --store=/cache/fetch-runs/www/casync/store /cache/fetch-runs/www/casync/v1.caibx $CACHE/v1.img",
    ],
    nginx: {
      version: "nginx/1.22.1",
      url,
      conf: "worker_processes 1;\nhttp {\n  server {\n    listen 127.0.0.1:8123;\n    root /cache/fetch-runs/www;\n  }\n}\n",
      command: "nginx -c /cache/fetch-runs/nginx/nginx.conf",
    },
    scratch,
    runsDir: "/cache/fetch-runs",
    delays,
    disk: [
      { label: "edgeboot fetch, cold cache", key: "eb", r: fetchTiming(3.1, []) },
      { label: "casync extract", key: "casync", r: fetchTiming(7.5, []) },
      { label: "no CPU figures", key: "eb-warm", r: { ...fetchTiming(1.5, []), cpu: undefined } },
    ],
    native: {
      decode: 0.61,
      sha256: 0.72,
      commands: [
        "bash -c 'zstd -d -c /dev/shm/edgeboot-bench-fetch/frames.zst > /dev/null'",
        "openssl dgst -sha256 $CACHE/v1.img",
      ],
    },
    profiles: [
      {
        label: "edgeboot fetch, cold cache",
        seconds: 2.9,
        threads: [
          {
            thread: 0,
            total: 2.8,
            busy: 1.9,
            top: [
              ["decode (chunk.js:10)", 0.4],
              ["(garbage collector)", 0.2],
            ],
          },
        ],
      },
    ],
    latency: {
      reads: 20,
      serverArgv: [
        "node",
        "bin/edgeboot.js",
        "nbd",
        `${url}/edgeboot`,
        "--listen",
        "127.0.0.1:0",
        "--cache-dir",
        `${scratch}/nbd/cache`,
      ],
      phases: [
        { label: "cold: fresh server, empty cache", handshakeMs: 12.5, reads: reads(0) },
        { label: "warm: the same reads again, same server", reads: reads(3), same: true },
        { label: "warm disk: restarted server", handshakeMs: 4.2, reads: reads(5) },
      ],
      raw: Array.from({ length: 20 }, (_, i) => 0.3 + (i % 5) * 0.05),
      frames: Array.from({ length: 14 }, (_, i) => 1.1 + (i % 4) * 0.4),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// bench/publish.mjs (bench/lib/publish-report.mjs)

/** The arguments of bench/lib/publish-report.mjs's render(); `withPeer` false: casync missing. */
export function publishInput(withPeer: boolean) {
  const specs: [string, string, number, Record<string, unknown>][] = [
    ["casync-zstd", "casync make (zstd)", 9.1, { peer: true, dedup: true }],
    ["casync-gzip", "casync make --compression=gzip", 14.2, { peer: true, once: true }],
    ["eb-fixed", "edgeboot publish (fixed:256K, zstd 3)", 3.9, { dedup: true }],
    ["eb-cdc", "edgeboot publish --chunking cdc:16K/64K/256K", 4.6, { dedup: true }],
    ["eb-gzip", "edgeboot publish --codec gzip (level 6)", 6.1, {}],
    ["eb-fixed-j1", "edgeboot publish --jobs 1 (fixed, zstd)", 6.8, { once: true, extraRow: true }],
    [
      "eb-cdc-j1",
      "edgeboot publish --jobs 1 --chunking cdc:16K/64K/256K",
      8.0,
      { once: true, extraRow: true },
    ],
  ];
  const second: typeof specs = [
    ["casync-zstd", "casync make (zstd)", 7.2, { peer: true, image: "ext4" }],
    ["eb-fixed", "edgeboot publish (fixed:256K, zstd 3)", 3.7, { image: "ext4" }],
    ["eb-cdc", "edgeboot publish --chunking cdc:16K/64K/256K", 4.4, { image: "ext4" }],
    ["eb-gzip", "edgeboot publish --codec gzip (level 6)", 5.9, { image: "ext4" }],
    [
      "eb-fixed-l2",
      "edgeboot publish --level 2 (fixed, zstd 2)",
      3.2,
      { image: "ext4", extraRow: true },
    ],
  ];
  const configs = [...specs, ...second]
    .filter(([, , , extra]) => withPeer || !extra.peer)
    .map(([key, label, seconds, extra], i) => {
      const runs = (extra.once ? [0] : [0, 1, 2]).map((r) => ({
        seconds: seconds * (1 + 0.05 * ((r + i) % 3)),
        cpu:
          key === "eb-gzip"
            ? undefined
            : { user: seconds * 1.3, sys: seconds * 0.2, rssMb: 120 + i },
      }));
      const bytes = 100_000_000 + 1_000_000 * i;
      return {
        key,
        label,
        ...extra,
        runs,
        best: runs.reduce((a, b) => (b.seconds < a.seconds ? b : a)),
        argv: (image: string, version: string) =>
          extra.peer
            ? [
                "casync",
                "make",
                `--store=/cache/runs/${key}-r1/store`,
                `/cache/runs/${key}-r1/${version}.caibx`,
                image,
              ]
            : [
                "node",
                "bin/edgeboot.js",
                "publish",
                image,
                "--name",
                "bench",
                "--out",
                `/cache/runs/${key}-r1`,
              ],
        chunks: { count: 1000 + 100 * i, bytes },
        duApparent: bytes + 400_000,
        duAllocated: bytes + 2_000_000,
        index: 70_000 + 1000 * i,
        v2: extra.dedup
          ? {
              seconds: seconds * 1.1,
              chunks: 1050 + i,
              newChunks: 40 + i,
              newStored: 4_000_000 + i,
              newRaw: 9_000_000 + i,
            }
          : undefined,
      };
    });
  const images = {
    files: 12000,
    membersInImage: 4100,
    reused: true,
    made: "2026-11-20T10:00:00.000Z",
    commands: ["tar --sort=name -cf - /usr/share | head -c 268435456 > /cache/v1.img"],
    v2: {
      changed: [
        { how: "rebuilt", offset: 10_000_000 },
        { how: "patched", offset: 20_000_000 },
        { how: "patched", offset: 5_500_000 },
      ],
      added: [{ offset: 30_000_000 }],
      differing: 12_345_678,
    },
    v2Command: "tar --sort=name -cf - -C /cache/v2root . | head -c 268435456 > /cache/v2.img",
    sha256: { v1: "ab".repeat(32), v2: "cd".repeat(32) },
    second: {
      made: "2026-11-20T10:05:00.000Z",
      reused: true,
      dirs: ["usr/lib/gcc", "usr/lib/python3.11"],
      commands: [
        "cd / && find usr/lib/gcc usr/lib/python3.11 -type f | LC_ALL=C sort | awk 'NR%5==1' > /cache/list-ext4.txt",
        "node /repo/bin/edgeboot.js image /cache/ext4root -o /cache/ext4.img --size 256M --label bench-ext4",
      ],
      files: 1081,
      treeBytes: 158_134_142,
      sha256: "ef".repeat(32),
    },
  };
  const profiles = [
    {
      label: "edgeboot publish (fixed:256K, zstd 3) on v1",
      seconds: 4.4,
      threads: [
        { thread: 0, total: 4.3, busy: 3.1, top: [["cut (chunker.js:20)", 1.1]] },
        { thread: 1, total: 4.3, busy: 0.9, top: [["sha256", 0.8]] },
      ],
    },
  ];
  return { configs, images, profiles };
}

// ---------------------------------------------------------------------------------------------
// bench/summary.mjs

const MACHINE =
  "- date: 2026-12-01T10:00:00.000Z\n- machine: 2 cores\n- Node v20; casync 2; edgeboot abc";

/** Results files as bench/summary.mjs reads them (edge.md not written). */
export const RESULTS_FILES: Record<string, string> = {
  "publish.md": `# Publish\n\nMade by it.\n\n${MACHINE}\n\n## Speed\n\nrows\n\n## Targets: at least 2×\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Observations (computed)\n\n- one\n\n<!-- hand-written notes: bench/publish.mjs keeps everything below this line -->\n\n## Targets in the notes\n\nnot copied\n`,
  "fetch.md": `# Fetch\n\n${MACHINE}\n\n## Target: 3×\n\n| c |\n|---|\n| yes |\n\n## What 3× would take: the work\n\nbudget\n\n## Random reads\n\nrows\n`,
  "boot.md": `# Boot\n\n${MACHINE}\n\n## Targets: prefetch\n\n| t |\n\n## Targets: the Debian root\n\n| d |\n\n## Observations\n\n- x\n`,
  "load.md":
    "# Load held\n\n- held: 1000 requests\n- every byte checked\n\n<!-- notes -->\n\nbelow\n",
};
