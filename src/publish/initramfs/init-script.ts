/** Where the fetcher's files sit in the archive; /init moves them to {@link FETCHER_ROOT}. */
export const FETCHER_ARCHIVE_DIR = "edgeboot";

/**
 * The tmpfs the fetcher runs from, chrooted: busybox switch_root deletes every file of the
 * initramfs but stops at other file systems, so this one (never moved) outlives the switch.
 */
export const FETCHER_ROOT = "/run/edgeboot";

/** Inside {@link FETCHER_ROOT}: the CLI package (package.json, dist/cli, node_modules). */
export const FETCHER_APP_DIR = "opt/edgeboot";

/** Inside {@link FETCHER_ROOT}: the baked-in publisher key. */
export const FETCHER_TRUST_KEY = "etc/edgeboot/trust.pub";

/**
 * Where the fetcher listens, inside {@link FETCHER_ROOT}: a unix socket, which nbd-client (in the
 * same chroot) reaches without the TCP stack that a loopback port would cost every request and
 * reply (system time under emulation).
 */
export const FETCHER_SOCKET = "/nbd.sock";

/** The process name the fetcher runs under: systemd's shutdown leaves `@` processes alive. */
export const FETCHER_ARGV0 = "@edgeboot-nbd";

/**
 * The environment variable naming the directory where the fetcher writes its CPU profile
 * (`edgeboot.cpuprof=`): set by /init, read by dist/cli/cpu-profile.js in the fetcher and by
 * whoever signals it (SIGUSR2) to write the profile.
 */
export const CPU_PROFILE_ENV = "EDGEBOOT_CPU_PROF_DIR";

/** Inside {@link FETCHER_ROOT}: the preload that profiles the fetcher (`node --import`). */
export const FETCHER_CPU_PROFILER = `${FETCHER_APP_DIR}/dist/cli/cpu-profile.js`;

/**
 * Matches the line /init prints with the fetcher's CPU time so far, read from /proc/PID/stat
 * (utime and stime over USER_HZ): group 1 user seconds, 2 system seconds, 3 the moment (`listening`,
 * `root mounted`).
 */
export const FETCHER_CPU_LINE =
  /edgeboot initramfs: fetcher cpu user=([\d.]+) sys=([\d.]+) s at ([a-z ]+)/;

/** The label of a file system /init keeps the chunk cache on, when the machine has one. */
export const CACHE_LABEL = "edgeboot-cache";

/** The archive's last member: /init finds it only if the kernel unpacked the whole archive. */
export const UNPACKED_MARKER = "etc/edgeboot/unpacked";

/**
 * Matches the one line /init prints when it gives up: `edgeboot initramfs: <what> failed: <check>`
 * (group 1 what failed, group 2 what to check). Progress lines never contain " failed: ".
 */
export const INITRAMFS_FAILURE = /^edgeboot initramfs: (.+?) failed: (.+)$/;

/** The helpers both /init scripts start with: progress lines, the failure line, the shell switch. */
const PRELUDE = `#!/bin/sh
export PATH=/bin
set -f
onfail=poweroff
say() {
  up=
  [ -r /proc/uptime ] && read -r up _ </proc/uptime
  echo "edgeboot initramfs: $*\${up:+ [$up s]}"
}
fail() {
  echo "edgeboot initramfs: $1 failed: $2"
  if [ "$onfail" = shell ]; then
    echo "edgeboot initramfs: edgeboot.onfail=shell, a shell on the console (exit powers off)"
    setsid cttyhack sh
  fi
  poweroff -f
  sleep 10
}
# The CPU seconds of process $1 (utime and stime in /proc/PID/stat, USER_HZ = 100 on Linux).
cpu_of() {
  [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | awk '{ printf "user=%.2f sys=%.2f", $12 / 100, $13 / 100 }'
}
# The same split by thread: the main thread (JS), and the others (V8's, libuv's pool for file calls).
threads_of() {
  set +f
  awk -v main="/proc/$1/task/$1/stat" 'FNR == 1 { sub(/^.*[)] /, ""); t = ($12 + $13) / 100; if (FILENAME == main) m = t; else { n++; o += t; if (t > top) top = t } }
    END { printf "main %.2f s, %d others %.2f s (busiest %.2f s)", m, n, o, top }' /proc/$1/task/*/stat 2>/dev/null
  set -f
}
mkdir -p /proc /sys /dev
{ mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev; } ||
  fail "mounting /proc, /sys and /dev" "this kernel needs CONFIG_PROC_FS, CONFIG_SYSFS and CONFIG_DEVTMPFS"
for arg in $(cat /proc/cmdline); do
  case "$arg" in edgeboot.onfail=*) onfail="\${arg#edgeboot.onfail=}" ;; esac
done
[ -e /${UNPACKED_MARKER} ] ||
  fail "unpacking the initramfs" "the kernel ran out of memory or the file is truncated (see 'Initramfs unpacking failed' above): give the machine more memory (384 MiB boots the fetching initramfs)"
kernel=$(cat /etc/edgeboot/kernel)
modules=$(cat /etc/edgeboot/modules)
if [ -n "$modules" ] && [ "$(uname -r)" != "$kernel" ]; then
  fail "matching the kernel" "this kernel is $(uname -r) but the initramfs's modules are for $kernel: build it with edgeboot initramfs --kernel $(uname -r)"
fi
for module in $modules; do
  insmod "/lib/modules/$module.ko" || fail "loading kernel module $module" "see the kernel's message above"
done
say "loaded $(echo $modules)"
`;

/**
 * The /init of the minimal initramfs: load the modules, wait for the root device (`root=`,
 * default /dev/vda), mount it read-only (`rootfstype=`, default ext4) and switch to it. For a root
 * disk the host attaches, such as qemu's own NBD client to `edgeboot nbd`.
 */
export function diskInitScript(): string {
  return `${PRELUDE}root=/dev/vda
fstype=ext4
init=/sbin/init
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="\${arg#root=}" ;;
    rootfstype=*) fstype="\${arg#rootfstype=}" ;;
    init=*) init="\${arg#init=}" ;;
  esac
done
tries=0
while [ ! -b "$root" ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 200 ] && fail "waiting 20 s for $root" "is the root disk attached, and its driver in the initramfs (--module)?"
  usleep 100000
done
mkdir -p /newroot
mount -t "$fstype" -o ro "$root" /newroot || fail "mounting $root ($fstype, read-only)" "is it a $fstype file system?"
say "$root mounted read-only, switching root"
umount /proc /sys /dev
exec switch_root /newroot "$init"
`;
}

/**
 * The /init of the fetching initramfs. It reads `edgeboot.edge=`, `edgeboot.rootfs=`,
 * `edgeboot.manifest=`, `edgeboot.published=` and `edgeboot.sig=` (the signed ref the boot script
 * was written for) from /proc/cmdline, brings eth0 up with DHCP, keeps the chunk cache on a file
 * system labelled {@link CACHE_LABEL} if there is one (else tmpfs), runs `edgeboot nbd` pinned to
 * that ref in a chroot on {@link FETCHER_ROOT}, attaches its export with the kernel's NBD client,
 * mounts it read-only under an overlay whose upper layer is tmpfs, and switches root. Optional:
 * `edgeboot.onfail=shell`, `edgeboot.fstype=` (default ext4), `edgeboot.cachelimit=`, `init=`, and
 * `edgeboot.record=FILE`: the fetcher records the boot's reads (`edgeboot nbd --record`, the input
 * of `edgeboot publish --profile`) to FILE in the chunk cache's directory, so a cache disk brings
 * the profile back to whoever reads the disk.
 */
export function fetcherInitScript(): string {
  const app = `/${FETCHER_APP_DIR}/dist/cli/edgeboot.js`;
  return `${PRELUDE}edge= rootfs= manifest= published= sig= cachelimit= record= cpuprof=
fstype=ext4
init=/sbin/init
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    edgeboot.edge=*) edge="\${arg#edgeboot.edge=}" ;;
    edgeboot.rootfs=*) rootfs="\${arg#edgeboot.rootfs=}" ;;
    edgeboot.manifest=*) manifest="\${arg#edgeboot.manifest=}" ;;
    edgeboot.published=*) published="\${arg#edgeboot.published=}" ;;
    edgeboot.sig=*) sig="\${arg#edgeboot.sig=}" ;;
    edgeboot.fstype=*) fstype="\${arg#edgeboot.fstype=}" ;;
    edgeboot.cachelimit=*) cachelimit="\${arg#edgeboot.cachelimit=}" ;;
    edgeboot.record=*) record="\${arg#edgeboot.record=}" ;;
    edgeboot.cpuprof=*) cpuprof="\${arg#edgeboot.cpuprof=}" ;;
    init=*) init="\${arg#init=}" ;;
  esac
done
[ -n "$edge" ] && [ -n "$rootfs" ] ||
  fail "reading edgeboot.edge= and edgeboot.rootfs= from the kernel command line" "the boot script must give both"
if [ -n "$manifest" ] && [ -z "$published" ]; then
  fail "reading edgeboot.published= from the kernel command line" "edgeboot.manifest= needs the publish time of its signed ref"
fi

ip link set lo up
tries=0
while [ ! -e /sys/class/net/eth0 ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 100 ] && fail "waiting 10 s for network interface eth0" "is net.ifnames=0 on the kernel command line, and the NIC's driver in the initramfs (edgeboot initramfs --module DRIVER)?"
  usleep 100000
done
ip link set eth0 up
run=${FETCHER_ROOT}
mkdir -p $run && mount -t tmpfs -o mode=0755 edgeboot $run || fail "mounting a tmpfs on $run" "is CONFIG_TMPFS in this kernel?"
set +f
mv /${FETCHER_ARCHIVE_DIR}/* $run/ && cp /bin/busybox $run/bin/busybox && mkdir -p $run/log $run/cache $run/tmp ||
  fail "copying the fetcher to $run" "does the machine have memory for it (about 150 MB)?"
set -f
udhcpc -i eth0 -f -q -n -t 10 -T 2 -s /etc/edgeboot/udhcpc.sh >$run/log/udhcpc.log 2>&1 ||
  fail "DHCP on eth0" "is the machine's network up, with a DHCP server on it? ($(tail -n 1 $run/log/udhcpc.log))"
say "network up: eth0 $(ip -4 -o addr show eth0 | awk '{ print $4 }')"

mount -t proc proc $run/proc && mount -t sysfs sysfs $run/sys && mount -t devtmpfs devtmpfs $run/dev ||
  fail "mounting /proc, /sys and /dev for the fetcher" "see the kernel's message above"
cachedev=$(findfs LABEL=${CACHE_LABEL} 2>/dev/null)
if [ -n "$cachedev" ] && mount -o noatime "$cachedev" $run/cache; then
  mkdir -p $run/cache/edgeboot
  cachedir=/cache/edgeboot
  limit=$(df -P -k $run/cache | awk 'NR == 2 { printf "%d", $2 * 1024 * 0.8 }')
  say "chunk cache on $cachedev (LABEL=${CACHE_LABEL}), kept across boots"
else
  [ -n "$cachedev" ] && say "cannot mount $cachedev (LABEL=${CACHE_LABEL}), so the chunk cache is on tmpfs"
  cachedir=/cache
  limit=$(awk '/^MemTotal:/ { printf "%d", $2 * 1024 / 4 }' /proc/meminfo)
  [ -z "$cachedev" ] && say "chunk cache on tmpfs (no file system labelled ${CACHE_LABEL})"
fi
[ -n "$cachelimit" ] && limit=$cachelimit
set -- nbd "$edge" --unix ${FETCHER_SOCKET} --cache-dir "$cachedir" --cache-limit "$limit"
[ -e $run/${FETCHER_TRUST_KEY} ] && set -- "$@" --trust /${FETCHER_TRUST_KEY}
if [ -n "$manifest" ]; then
  set -- "$@" --pin "$rootfs=$manifest,$published\${sig:+,$sig}"
else
  say "no edgeboot.manifest= on the command line: serving whatever the ref of $rootfs names"
fi
if [ -n "$record" ]; then
  case "$record" in
    .* | *[!A-Za-z0-9._-]*) fail "reading edgeboot.record=$record" "give a file name (letters, digits, . _ -): it is written in the chunk cache's directory" ;;
  esac
  set -- "$@" --record "$cachedir/$record"
  say "recording the boot's reads to $record in the chunk cache"
fi
nodeoptions= profdir=
if [ -n "$cpuprof" ]; then
  case "$cpuprof" in
    .* | *[!A-Za-z0-9._-]*) fail "reading edgeboot.cpuprof=$cpuprof" "give a directory name (letters, digits, . _ -): it is made in the chunk cache's directory" ;;
  esac
  nodeoptions="--import /${FETCHER_CPU_PROFILER}"
  profdir="$cachedir/$cpuprof"
  say "profiling the fetcher's CPU: SIGUSR2 writes a .cpuprofile to $cpuprof in the chunk cache"
fi
fetcher_said() {
  line=$(grep -v '^edgeboot: not verifying' $run/log/nbd.log 2>/dev/null | tail -n 1)
  if [ -n "$line" ]; then echo "the fetcher says: $line"; else echo "$1"; fi
}
HOME=/ NODE_OPTIONS="$nodeoptions" ${CPU_PROFILE_ENV}="$profdir" \\
  chroot $run /bin/busybox sh -c 'exec -a ${FETCHER_ARGV0} /bin/node ${app} "$@"' ${FETCHER_ARGV0} "$@" \\
  </dev/null >$run/log/nbd.out 2>$run/log/nbd.log &
fetcher=$!
tries=0
until grep -q '^serving ' $run/log/nbd.out 2>/dev/null; do
  if [ ! -r /proc/$fetcher/status ] || grep -q '^State:.*zombie' /proc/$fetcher/status; then
    fail "starting the fetcher (edgeboot nbd $edge)" "$(fetcher_said "it exited without a word")"
  fi
  tries=$((tries + 1))
  [ "$tries" -gt 1200 ] && fail "waiting 120 s for the fetcher to listen" "$(fetcher_said "is the edge $edge reachable from here?")"
  usleep 100000
done
say "fetcher listening on ${FETCHER_SOCKET} (rootfs $rootfs\${manifest:+, manifest $manifest})"
say "fetcher cpu $(cpu_of $fetcher) s at listening"
say "fetcher threads at listening: $(threads_of $fetcher)"

chroot $run /bin/nbd-client -unix ${FETCHER_SOCKET} /dev/nbd0 -name "$rootfs" -systemd-mark -readonly -block-size 4096 \\
  >$run/log/nbd-client.log 2>&1 ||
  fail "attaching /dev/nbd0 to the fetcher's export $rootfs" "$(tail -n 1 $run/log/nbd-client.log); $(fetcher_said "the fetcher logged nothing")"
say "/dev/nbd0 attached ($(cat /sys/block/nbd0/size) sectors)"

mkdir -p /layers/lower /layers/rw /newroot
mount -t "$fstype" -o ro /dev/nbd0 /layers/lower ||
  fail "mounting rootfs $rootfs ($fstype, read-only) from /dev/nbd0" "$(fetcher_said "is rootfs $rootfs a $fstype image? (edgeboot.fstype= names another type)")"
{ mount -t tmpfs -o mode=0755 rw /layers/rw && mkdir -p /layers/rw/upper /layers/rw/work &&
  mount -t overlay -o lowerdir=/layers/lower,upperdir=/layers/rw/upper,workdir=/layers/rw/work overlay /newroot; } ||
  fail "mounting the overlay (tmpfs over the read-only root)" "see the kernel's message above"
[ -e "/newroot$init" ] || [ -L "/newroot$init" ] ||
  fail "finding $init in rootfs $rootfs" "publish a root with an init, or set init= on the kernel command line"
say "root mounted read-only under a tmpfs overlay, switching root to $init"
say "fetcher cpu $(cpu_of $fetcher) s at root mounted"
say "fetcher threads at root mounted: $(threads_of $fetcher)"
for dir in dev proc sys; do
  mkdir -p /newroot/$dir && mount --move /$dir /newroot/$dir
done
exec switch_root /newroot "$init"
`;
}

/** The udhcpc event script: sets eth0's address and default route, and the fetcher's resolv.conf. */
export function udhcpcScript(): string {
  return `#!/bin/sh
resolv=${FETCHER_ROOT}/etc/resolv.conf
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    mkdir -p "\${resolv%/*}"
    : >"$resolv"
    for server in $dns; do echo "nameserver $server" >>"$resolv"; done
    [ -n "$domain" ] && echo "search $domain" >>"$resolv"
    ;;
esac
exit 0
`;
}
