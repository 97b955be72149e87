/*
 * ns-isolated-launcher: the only native code of ns-isolated.
 *
 * It does what cannot be done from JavaScript (a Node process is
 * multithreaded from its first line, so it can neither unshare a user
 * namespace nor fork safely) and nothing else:
 *
 *   outer (the process the runner spawned)
 *     1. ties itself to the runner (PDEATHSIG, then re-checks the parent),
 *     2. joins the sandbox's cgroups, so nothing it starts escapes them,
 *     3. unshares the user namespace (rootless) and writes its id maps,
 *     4. unshares PID, mount, UTS, IPC (+ net, cgroup) namespaces,
 *     5. forks PID 1 of the new PID namespace and relays signals to it,
 *        then exits the way the worker exited.
 *   init (PID 1 inside)
 *     6. forks the worker (PID 2), which carries out the host's mount plan
 *        (NS_ISOLATED_PLAN) and execs the command,
 *     7. forwards SIGTERM/SIGINT/... to the worker and reaps every orphan;
 *        with --reuse, also rebuilds the sandbox's filesystem when the
 *        worker asks (reset_sandbox),
 *     8. when the worker exits: lists what is still alive, kills it, lists
 *        what the sandbox wrote (from the overlay's upper layers named in
 *        the plan's manifest), writes one JSON line to the status fd, and
 *        exits. The kernel then tears down the rest.
 *
 * Everything that is policy (which mounts, hostname, loopback, limits,
 * reports) is decided in TypeScript on the host (src/host/plan.ts); this
 * file only carries it out. Steps read top to bottom in the order they happen.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_LAUNCHER 125 /* the launcher itself failed; see status JSON */
#define MAX_CGROUPS 16
#define MAX_LEAKS 256
#define MAX_WRITES 2000
#define MANIFEST "/dev/.ns-isolated/manifest"
#define STAGING "/dev/.ns-isolated/"
/* --reuse: the host's tree, kept read-only under a cover for the resets. */
#define HOST_HELD "/dev/.ns-isolated-host"
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
struct nsi_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

static int status_fd = -1;
static FILE *status_out;

/* ---------- output helpers ---------------------------------------------- */

static void json_str(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* A failure of the launcher itself: one JSON line the host turns into an
 * NsIsolatedError with a stable code, or a plain message without a host. */
static void fail(const char *step, int err, const char *detail) {
  if (status_fd >= 0) {
    FILE *f = fdopen(dup(status_fd), "w");
    if (f) {
      fprintf(f, "{\"v\":1,\"error\":{\"step\":\"%s\",\"errno\":%d,\"detail\":", step, err);
      json_str(f, detail ? detail : "", detail ? strlen(detail) : 0);
      fputs("}}\n", f);
      fclose(f);
    }
  }
  fprintf(stderr, "ns-isolated-launcher: %s failed: %s%s%s\n", step, strerror(err),
          detail ? ": " : "", detail ? detail : "");
  _exit(EXIT_LAUNCHER);
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t len = (ssize_t)strlen(text);
  ssize_t n = write(fd, text, (size_t)len);
  int err = errno;
  close(fd);
  errno = err;
  return n == len ? 0 : -1;
}

/* ---------- init (PID 1): leaks and writes ------------------------------ */

/* What is still alive once the worker is gone. Only meaningful when /proc is
 * the sandbox's own (the worker-side setup mounts it); otherwise we would
 * list the host's processes, so we check that we are pid 1 in it. */
static int list_leaks(FILE *f) {
  char self[32] = {0};
  if (readlink("/proc/self", self, sizeof self - 1) < 0 || strcmp(self, "1") != 0) return -1;
  DIR *d = opendir("/proc");
  if (!d) return -1;
  struct dirent *e;
  int count = 0;
  while ((e = readdir(d)) && count < MAX_LEAKS) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 1) continue;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) { /* zombie or kernel-less: fall back to comm */
      snprintf(path, sizeof path, "/proc/%ld/comm", pid);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
      if (fd >= 0) close(fd);
      if (n < 0) continue; /* already gone */
      if (n > 0 && buf[n - 1] == '\n') n--;
    }
    while (n > 0 && buf[n - 1] == '\0') n--;
    for (ssize_t i = 0; i < n; i++) if (buf[i] == '\0') buf[i] = ' ';
    fprintf(f, "%s{\"pid\":%ld,\"cmd\":", count ? "," : "", pid);
    json_str(f, buf, (size_t)n);
    fputc('}', f);
    count++;
  }
  closedir(d);
  return count;
}

static FILE *walk_out;
static const char *walk_mount;
static size_t walk_root_len;
static int walk_count, walk_truncated;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)ftw;
  if (path[walk_root_len] == '\0') return 0; /* the upper dir itself */
  const char *kind;
  if (type == FTW_D || type == FTW_DP || type == FTW_DNR) return 0; /* dirs: copy-ups */
  if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) kind = "deleted";
  else if (type == FTW_SL || type == FTW_SLN) kind = "symlink";
  else if (S_ISREG(st->st_mode)) kind = "file";
  else kind = "other";
  if (walk_count >= MAX_WRITES) { walk_truncated = 1; return 1; }
  char full[PATH_MAX * 3];
  const char *rel = path + walk_root_len; /* starts with '/' */
  int n = snprintf(full, sizeof full, "%s%s", strcmp(walk_mount, "/") ? walk_mount : "", rel);
  if (n < 0) return 0;
  fprintf(walk_out, "%s{\"path\":", walk_count ? "," : "");
  json_str(walk_out, full, strlen(full));
  fprintf(walk_out, ",\"kind\":\"%s\"}", kind);
  walk_count++;
  return 0;
}

/* The manifest has one line per overlay: "<upper dir>\t<mount path>". */
static int list_writes(FILE *f) {
  FILE *m = fopen(MANIFEST, "re");
  if (!m) return -1;
  char line[PATH_MAX * 2 + 2];
  walk_out = f;
  walk_count = walk_truncated = 0;
  while (fgets(line, sizeof line, m) && !walk_truncated) {
    line[strcspn(line, "\n")] = 0;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = 0;
    char upper[sizeof line + sizeof STAGING];
    snprintf(upper, sizeof upper, "%s%s", STAGING, line);
    walk_mount = tab + 1;
    walk_root_len = strlen(upper);
    nftw(upper, walk_one, 32, FTW_PHYS);
  }
  fclose(m);
  return walk_count;
}

static void report(int wstatus) {
  FILE *f = status_out;
  fputs("{\"v\":1,", f);
  if (WIFSIGNALED(wstatus)) fprintf(f, "\"code\":null,\"signal\":%d,", WTERMSIG(wstatus));
  else fprintf(f, "\"code\":%d,\"signal\":null,", WEXITSTATUS(wstatus));
  fputs("\"leaked\":[", f);
  int leaks = list_leaks(f);
  fputs("],", f);
  if (leaks < 0) fputs("\"leaksUnknown\":true,", f);
  /* Everything left is killed before its writes are listed, so the list is
   * final. kill(-1) from PID 1 reaches every process of the namespace. */
  kill(-1, SIGKILL);
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
  fputs("\"writes\":[", f);
  int writes = list_writes(f);
  /* Every process of the sandbox was reaped by us or by a reaped ancestor, so
   * our children's rusage covers the whole tree: the figures without a cgroup. */
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  fprintf(f, "],\"writesTruncated\":%s,\"writesUnknown\":%s,", walk_truncated ? "true" : "false",
          writes < 0 ? "true" : "false");
  fprintf(f, "\"rusage\":{\"utimeUs\":%lld,\"stimeUs\":%lld,\"maxrssKb\":%ld}}\n",
          (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
  fflush(f);
}


/* ---------- worker: the filesystem plan ---------------------------------- */
/*
 * The host (src/host/plan.ts) decides every mount; here we only carry the
 * list out, in order, between fork and exec, where no JavaScript can run.
 * One op per line, fields separated by tabs; \t \n \\ are escaped.
 *
 *   K                         open the host's /tmp (O_PATH): "@tmp/x" args mean host /tmp/x
 *   D path mode               mkdir -p
 *   M src target type flags data    mount, must work ("-" = NULL)
 *   m src target type flags data    mount, may fail
 *   O lower target index path userxattr   overlay lower at target (upper/work in
 *                             STAGING_HOST/upper|work/index); if refused: a read-only
 *                             bind, noted as degraded
 *   R target                  remount a bind read-only (keeping locked flags), may fail
 *   L target linkpath         symlink
 *   T path                    create an empty file
 *   F src dst                 copy a file (failure noted as degraded)
 *   N text                    a degraded note decided by the host
 *   H hostname                sethostname
 *   U                         bring lo up
 *   P newroot cwd             write the manifest, pivot_root, detach the old root, chdir
 */
#define STAGING_HOST "/tmp"
#define MAX_FIELDS 8

static int host_tmp_fd = -1;
/* Reuse mode (--reuse). The worker's own plan pivots with the old root (the
 * host's tree) kept at HOST_HELD instead of detached: read-only, covered by
 * an empty tmpfs, and held open by PID 1, which alone reaches it. A reset
 * (reset_sandbox) replays the plan in a child of PID 1, with the overlays'
 * lower layers and the copied files taken from that tree: a fresh root over
 * the host's untouched files, fresh upper layers, /tmp, /dev, /proc. */
static int reuse;        /* the worker's plan: keep the host's tree */
static int resetting;    /* the reset child's plan: lowers from held_root */
static int reset_staged; /* resetting: the new staging tmpfs covers /tmp; undone on failure */
static int held_root = -1;
static int ipc_removed;
static char notes[16384];
static size_t notes_len;
static char manifest[16384];
static size_t manifest_len;

static void note(const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  FILE *f = fmemopen(notes + notes_len, sizeof notes - notes_len, "w");
  if (!f) return;
  if (notes_len) fputc(',', f);
  json_str(f, text, strlen(text));
  fflush(f);
  notes_len += (size_t)ftell(f);
  fclose(f);
}

static void setup_fail(const char *code, const char *op, int err, const char *path) {
  /* A reset that fails half-way leaves the sandbox as it was: the new tree,
   * all of it under the new staging tmpfs, goes with it. */
  if (reset_staged) umount2(STAGING_HOST, MNT_DETACH);
  if (status_fd >= 0) {
    FILE *f = fdopen(dup(status_fd), "w");
    if (f) {
      char msg[PATH_MAX + 256];
      snprintf(msg, sizeof msg, "%s %s: %s", op, path ? path : "", strerror(err));
      fprintf(f, "{\"v\":1,\"setupError\":{\"code\":\"%s\",\"step\":", code);
      json_str(f, op, strlen(op));
      fputs(",\"message\":", f);
      json_str(f, msg, strlen(msg));
      fprintf(f, ",\"errnoNumber\":%d,\"path\":", err);
      json_str(f, path ? path : "", path ? strlen(path) : 0);
      fputs("}}\n", f);
      fclose(f);
    }
  }
  fprintf(stderr, "ns-isolated: sandbox setup failed: %s %s: %s\n", op, path ? path : "", strerror(err));
  _exit(EXIT_LAUNCHER);
}

/* "@tmp/x" names /tmp/x of the host, reachable through our O_PATH fd once
 * the staging tmpfs covers /tmp. */
static const char *hostpath(const char *p, char *buf, size_t size) {
  if (strncmp(p, "@tmp", 4) != 0) return p;
  snprintf(buf, size, "/proc/self/fd/%d%s", host_tmp_fd, p + 4);
  return buf;
}

/* Where an overlay's lower layer or a copied file comes from: the host's
 * tree, which in a reset is the one PID 1 holds. */
static const char *lowerpath(const char *p, char *buf, size_t size) {
  if (!resetting) return hostpath(p, buf, size);
  if (strncmp(p, "@tmp", 4) == 0) snprintf(buf, size, "/proc/self/fd/%d/tmp%s", held_root, p + 4);
  else snprintf(buf, size, "/proc/self/fd/%d%s", held_root, strcmp(p, "/") ? p : "");
  return buf;
}

static int mkdir_p(const char *path, mode_t mode) {
  /* Most directories of the plan exist already (in the lower layer): try the
   * whole path first, and walk the parents only when one is missing. */
  if (mkdir(path, mode) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return -1;
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static const char *nul(const char *s) { return strcmp(s, "-") ? s : NULL; }

/* Remount a bind read-only; in a user namespace the flags the kernel locked
 * (nosuid, nodev, noexec, ...) must be repeated or it refuses. */
static int remount_ro(const char *target) {
  struct statvfs sv;
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
  if (statvfs(target, &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  return mount(NULL, target, NULL, flags, NULL);
}

static void overlay_opt(char *out, size_t size, const char *key, const char *path) {
  size_t n = strlen(out);
  n += (size_t)snprintf(out + n, size - n, "%s%s=", n ? "," : "", key);
  for (const char *c = path; *c && n + 2 < size; c++) {
    if (*c == ',' || *c == ':' || *c == '\\') out[n++] = '\\';
    out[n++] = *c;
  }
  out[n] = 0;
}

static void lo_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) setup_fail("ENS_NETWORK_FAILED", "bring lo up", errno, "lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) setup_fail("ENS_NETWORK_FAILED", "bring lo up", errno, "lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) setup_fail("ENS_NETWORK_FAILED", "bring lo up", errno, "lo");
  close(fd);
}

static void copy_file(const char *src, const char *dst) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  char buf[65536];
  ssize_t n = 0;
  while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) { n = -1; break; }
  int err = errno;
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  if (in < 0 || out < 0 || n < 0) note("%s: not carried over (%s)", dst, strerror(err));
}

static void unescape_field(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (*r == '\\' && r[1]) {
      r++;
      *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
    } else *w++ = *r;
  }
  *w = 0;
}

static void apply_plan(char *plan) {
  char *save = NULL;
  char b1[PATH_MAX + 64], b2[PATH_MAX + 64];
  for (char *line = strtok_r(plan, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[MAX_FIELDS] = {0};
    int n = 0;
    for (char *p = line; n < MAX_FIELDS;) {
      f[n++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = 0;
      p = tab + 1;
    }
    for (int i = 0; i < n; i++) unescape_field(f[i]);
    char op = f[0][0];
#define NEED(k) if (n < (k)) setup_fail("ENS_LAUNCHER_FAILED", "plan", EINVAL, line)
    switch (op) {
    case 'K':
      host_tmp_fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (host_tmp_fd < 0) setup_fail("ENS_MOUNT_FAILED", "open /tmp", errno, "/tmp");
      break;
    case 'D':
      NEED(3);
      if (mkdir_p(f[1], (mode_t)strtol(f[2], NULL, 8)) < 0) setup_fail("ENS_MOUNT_FAILED", "mkdir", errno, f[1]);
      break;
    case 'M':
    case 'm': {
      NEED(6);
      const char *src = nul(f[1]);
      if (src) src = hostpath(src, b1, sizeof b1);
      if (mount(src, f[2], nul(f[3]), strtoul(f[4], NULL, 0), nul(f[5])) < 0) {
        if (op == 'M') setup_fail("ENS_MOUNT_FAILED", f[3][0] != '-' ? f[3] : "bind", errno, f[2]);
      } else if (resetting && strcmp(f[2], STAGING_HOST) == 0) reset_staged = 1;
      break;
    }
    case 'O': {
      NEED(6);
      char upper[64], work[64], opts[3 * PATH_MAX];
      snprintf(upper, sizeof upper, STAGING_HOST "/upper/%s", f[3]);
      snprintf(work, sizeof work, STAGING_HOST "/work/%s", f[3]);
      if (mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0) setup_fail("ENS_MOUNT_FAILED", "mkdir", errno, upper);
      const char *lower = lowerpath(f[1], b1, sizeof b1);
      opts[0] = 0;
      overlay_opt(opts, sizeof opts, "lowerdir", lower);
      overlay_opt(opts, sizeof opts, "upperdir", upper);
      overlay_opt(opts, sizeof opts, "workdir", work);
      if (f[5][0] == '1') strcat(opts, ",userxattr");
      if (mount("overlay", f[2], "overlay", 0, opts) == 0) {
        manifest_len += (size_t)snprintf(manifest + manifest_len, sizeof manifest - manifest_len, "upper/%s\t%s\n", f[3], f[4]);
        break;
      }
      int err = errno;
      if (mount(lower, f[2], NULL, MS_BIND | MS_REC, NULL) < 0) setup_fail("ENS_MOUNT_FAILED", "bind", errno, f[4]);
      remount_ro(f[2]);
      note("%s: read-only (overlay refused: %s)", f[4], strerror(err));
      break;
    }
    case 'R':
      NEED(2);
      remount_ro(f[1]);
      break;
    case 'L':
      NEED(3);
      if (symlink(f[1], f[2]) < 0 && errno != EEXIST) setup_fail("ENS_MOUNT_FAILED", "symlink", errno, f[2]);
      break;
    case 'T': {
      NEED(2);
      /* A mount point for a file. One that is there already is left alone:
       * opening it for writing would copy it up through an overlay, and
       * fail under a read-only bind. */
      if (access(f[1], F_OK) == 0) break;
      int fd = open(f[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) setup_fail("ENS_MOUNT_FAILED", "create", errno, f[1]);
      close(fd);
      break;
    }
    case 'F':
      NEED(3);
      copy_file(lowerpath(f[1], b1, sizeof b1), f[2]);
      break;
    case 'N':
      NEED(2);
      note("%s", f[1]);
      break;
    case 'H':
      NEED(2);
      if (sethostname(f[1], strlen(f[1])) < 0) setup_fail("ENS_NAMESPACE_DENIED", "sethostname", errno, f[1]);
      break;
    case 'U':
      lo_up();
      break;
    case 'P': {
      NEED(3);
      snprintf(b2, sizeof b2, STAGING_HOST "/manifest");
      int fd = open(b2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || write(fd, manifest, manifest_len) != (ssize_t)manifest_len)
        setup_fail("ENS_MOUNT_FAILED", "write manifest", errno, b2);
      close(fd);
      if (chdir(f[1]) < 0) setup_fail("ENS_MOUNT_FAILED", "chdir", errno, f[1]);
      if (resetting) {
        /* The held host tree (with its cover) moves into the new root first:
         * it would go with the old one. */
        snprintf(b2, sizeof b2, "%s" HOST_HELD, f[1]);
        if (mkdir_p(b2, 0700) < 0) setup_fail("ENS_MOUNT_FAILED", "mkdir", errno, b2);
        if (syscall(SYS_move_mount, held_root, "", AT_FDCWD, b2, MOVE_MOUNT_F_EMPTY_PATH) < 0)
          setup_fail("ENS_MOUNT_FAILED", "move the host's tree", errno, b2);
      }
      if (reuse) {
        /* The old root stays, at HOST_HELD: read-only (best effort: Linux
         * 5.12), covered, reachable only through PID 1's descriptor. */
        if (mkdir_p("." HOST_HELD, 0700) < 0) setup_fail("ENS_MOUNT_FAILED", "mkdir", errno, HOST_HELD);
        if (syscall(SYS_pivot_root, ".", "." HOST_HELD) < 0) setup_fail("ENS_MOUNT_FAILED", "pivot_root", errno, f[1]);
        if (chdir("/") < 0) setup_fail("ENS_MOUNT_FAILED", "chdir", errno, "/");
        /* The staging tmpfs over the host's /tmp: the new root has what it needs of it. */
        if (umount2(HOST_HELD "/tmp", MNT_DETACH) < 0) setup_fail("ENS_MOUNT_FAILED", "detach staging", errno, HOST_HELD "/tmp");
        struct nsi_mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        if (syscall(SYS_mount_setattr, AT_FDCWD, HOST_HELD, AT_RECURSIVE, &ro, sizeof ro) < 0)
          note("the host's tree kept for resets is not read-only inside (mount_setattr: %s)", strerror(errno));
        if (mount("ns-isolated-held", HOST_HELD, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000") < 0)
          setup_fail("ENS_MOUNT_FAILED", "cover", errno, HOST_HELD);
      } else {
        /* pivot_root(".", ".") stacks the old root on the new one; detaching
         * it leaves nothing of the host's mount tree reachable. */
        if (syscall(SYS_pivot_root, ".", ".") < 0) setup_fail("ENS_MOUNT_FAILED", "pivot_root", errno, f[1]);
        if (umount2(".", MNT_DETACH) < 0) setup_fail("ENS_MOUNT_FAILED", "detach old root", errno, "/");
      }
      reset_staged = 0; /* the new root is in place: no way back */
      if (host_tmp_fd >= 0) close(host_tmp_fd);
      if (chdir(f[2]) < 0) {
        note("cwd %s: not found inside, using /", f[2]);
        if (chdir("/") < 0) setup_fail("ENS_MOUNT_FAILED", "chdir", errno, "/");
      }
      break;
    }
    default:
      setup_fail("ENS_LAUNCHER_FAILED", "plan", EINVAL, line);
    }
  }
  if (status_fd >= 0) {
    char line[sizeof notes + 64];
    int len = resetting
                  ? snprintf(line, sizeof line, "{\"v\":1,\"reset\":{\"degraded\":[%.*s],\"ipcRemoved\":%d}}\n",
                             (int)notes_len, notes, ipc_removed)
                  : snprintf(line, sizeof line, "{\"v\":1,\"setup\":{\"degraded\":[%.*s]}}\n", (int)notes_len, notes);
    if (write(status_fd, line, (size_t)len) < 0) {}
  }
}

/* Reset: the IPC namespace cannot be replaced under a running worker, so
 * its objects go: SysV segments, semaphores and queues, POSIX queues. */
static int clear_ipc(void) {
  static const char *lists[] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"};
  int removed = 0;
  for (int k = 0; k < 3; k++) {
    FILE *f = fopen(lists[k], "re");
    if (!f) continue;
    char line[512];
    if (fgets(line, sizeof line, f)) /* the header */
      while (fgets(line, sizeof line, f)) {
        long key;
        int id;
        if (sscanf(line, "%ld %d", &key, &id) != 2) continue;
        int r = k == 0 ? shmctl(id, IPC_RMID, NULL) : k == 1 ? semctl(id, 0, IPC_RMID) : msgctl(id, IPC_RMID, NULL);
        if (r == 0) removed++;
      }
    fclose(f);
  }
  DIR *d = opendir("/dev/mqueue");
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.' && unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
  if (d) closedir(d);
  return removed;
}

/* One reset, asked for by the worker between two files: the plan again, in
 * a child of PID 1 (a failure must not take PID 1 down), which answers on
 * the worker's socket with one JSON line ("reset" or "setupError"). */
static void reset_sandbox(int ctl, const char *plan) {
  pid_t c = plan ? fork() : -1;
  if (c == 0) {
    status_fd = ctl;
    status_out = NULL;
    reuse = 0;
    resetting = 1;
    ipc_removed = clear_ipc();
    char *copy = strdup(plan);
    if (!copy) setup_fail("ENS_MOUNT_FAILED", "reset", ENOMEM, "");
    apply_plan(copy);
    _exit(0);
  }
  int st = 0;
  if (c > 0)
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
  if (c < 0 || !WIFEXITED(st)) {
    char line[256];
    int len = snprintf(line, sizeof line,
                       "{\"v\":1,\"setupError\":{\"code\":\"ENS_MOUNT_FAILED\",\"step\":\"reset\",\"message\":\"reset %s\","
                       "\"errnoNumber\":0,\"path\":\"\"}}\n",
                       c < 0 ? (plan ? "could not fork" : "has no plan") : "was killed");
    if (write(ctl, line, (size_t)len) < 0) {}
  }
}

static int forwarded(int sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGUSR1 ||
         sig == SIGUSR2 || sig == SIGWINCH;
}

/* PID 1 of the sandbox. Signals were blocked by the outer process before the
 * fork, so none is lost between here and sigwaitinfo. */
static void run_init(int outer_sock, char **argv, const sigset_t *waited) {
  /* Die with the outer process. Set it, then check that the outer process is
   * still there: it may have died before the prctl took effect. getppid() is
   * 0 for a PID-namespace init, so the check is a hang-up on our socket. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  struct pollfd p = {.fd = outer_sock, .events = POLLIN};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN))) _exit(EXIT_LAUNCHER);

  /* Reuse: hold the host's tree (still our root) and the plan, and give
   * the worker a socket to ask for resets on. */
  int ctl[2] = {-1, -1};
  char *plan_copy = NULL;
  if (reuse) {
    held_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (held_root < 0) fail("open /", errno, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) fail("socketpair", errno, NULL);
    const char *plan = getenv("NS_ISOLATED_PLAN");
    if (plan) plan_copy = strdup(plan);
  }

  /* A close-on-exec pipe tells us whether exec succeeded: EOF means yes. */
  int execp[2];
  if (pipe2(execp, O_CLOEXEC) < 0) fail("pipe", errno, NULL);
  pid_t worker = fork();
  if (worker < 0) fail("fork worker", errno, NULL);
  if (worker == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(execp[0]);
    if (reuse) {
      char num[16];
      close(ctl[0]);
      close(held_root);
      if (fcntl(ctl[1], F_SETFD, 0) < 0) fail("reset socket", errno, NULL);
      snprintf(num, sizeof num, "%d", ctl[1]);
      setenv("NS_ISOLATED_RESET_FD", num, 1);
    }
    const char *plan = getenv("NS_ISOLATED_PLAN");
    if (plan) {
      char *copy = strdup(plan);
      unsetenv("NS_ISOLATED_PLAN");
      apply_plan(copy);
    }
    execvp(argv[0], argv);
    int err = errno;
    if (write(execp[1], &err, sizeof err) < 0) {}
    _exit(127);
  }
  close(execp[1]);
  if (ctl[1] >= 0) close(ctl[1]);
  int exec_err = 0;
  ssize_t got;
  while ((got = read(execp[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR) {}
  close(execp[0]);
  if (got == (ssize_t)sizeof exec_err) {
    waitpid(worker, NULL, 0);
    fail("exec", exec_err, argv[0]);
  }

  /* The signals (blocked since before the fork) and the reset socket. */
  int sfd = signalfd(-1, waited, SFD_CLOEXEC);
  if (sfd < 0) fail("signalfd", errno, NULL);
  struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = ctl[0], .events = POLLIN}};
  int wstatus = 0;
  for (;;) {
    if (poll(pf, 2, -1) < 0) continue;
    if (pf[1].revents) {
      char ask;
      ssize_t got = read(ctl[0], &ask, 1);
      if (got == 1) reset_sandbox(ctl[0], plan_copy);
      else if (got == 0 || errno != EINTR) pf[1].fd = -1; /* the worker closed it: no more resets */
    }
    struct signalfd_siginfo si;
    if (!(pf[0].revents & POLLIN) || read(sfd, &si, sizeof si) != (ssize_t)sizeof si) continue;
    int sig = (int)si.ssi_signo;
    if (sig == SIGCHLD) {
      pid_t pid;
      int st;
      int done = 0;
      while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        if (pid == worker) { wstatus = st; done = 1; }
      if (done) break;
    } else if (forwarded(sig) && si.ssi_code != SI_KERNEL) {
      /* Terminal signals (SI_KERNEL) already reach the worker through its
       * process group; only relay what was sent to us on purpose. */
      kill(worker, sig);
    }
  }
  if (status_out) report(wstatus);
  else {
    kill(-1, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
  }
  /* Tell the outer process how the worker ended, so it can end the same way. */
  if (write(outer_sock, &wstatus, sizeof wstatus) < 0) {}
  _exit(0);
}

/* ---------- outer: from the runner into the namespaces ------------------- */

static int join_by_pid(const char *procs) {
  char pidtext[24];
  snprintf(pidtext, sizeof pidtext, "%d\n", getpid());
  return write_file(procs, pidtext);
}

/* fork(), or with a cgroup2 directory fd, clone3 straight into that cgroup.
 * -1 when clone3 cannot do it (the caller then joins and forks). */
static pid_t fork_into(int cgroup_fd) {
  if (cgroup_fd < 0) return fork();
#ifdef SYS_clone3
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
  } args;
  memset(&args, 0, sizeof args);
  args.flags = 0x200000000ULL; /* CLONE_INTO_CGROUP */
  args.exit_signal = SIGCHLD;
  args.cgroup = (uint64_t)cgroup_fd;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid >= 0) return (pid_t)pid;
#endif
  return -1;
}

static void usage(void) {
  fputs("usage: ns-isolated-launcher [--parent-pid PID] [--cgroup-procs FILE]... [--userns]\n"
        "         [--no-net] [--cgroupns] [--no-clone3] [--reuse] [--status-fd N | --status-file FILE] -- CMD [ARGS...]\n"
        "This is ns-isolated's native helper; run sandboxes with `ns-isolated run`.\n",
        stderr);
  exit(2);
}

#ifndef NS_ISOLATED_VERSION /* the package's version, passed with -D by the build */
#define NS_ISOLATED_VERSION "unknown"
#endif

int main(int argc, char **argv) {
  signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would auto-reap the worker */
  long parent_pid = 0;
  const char *cgroups[MAX_CGROUPS];
  int ncgroups = 0, userns = 0, newnet = 1, cgroupns = 0, no_clone3 = 0, i;
  const char *status_file = NULL;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    else if (!strcmp(a, "--version")) { printf("ns-isolated-launcher %s\n", NS_ISOLATED_VERSION); return 0; }
    else if (!strcmp(a, "--parent-pid") && i + 1 < argc) parent_pid = atol(argv[++i]);
    else if (!strcmp(a, "--cgroup-procs") && i + 1 < argc && ncgroups < MAX_CGROUPS) cgroups[ncgroups++] = argv[++i];
    else if (!strcmp(a, "--userns")) userns = 1;
    else if (!strcmp(a, "--no-net")) newnet = 0;
    else if (!strcmp(a, "--cgroupns")) cgroupns = 1;
    else if (!strcmp(a, "--no-clone3")) no_clone3 = 1; /* tests: take the fallback join */
    else if (!strcmp(a, "--reuse")) reuse = 1;
    else if (!strcmp(a, "--status-fd") && i + 1 < argc) status_fd = atoi(argv[++i]);
    else if (!strcmp(a, "--status-file") && i + 1 < argc) status_file = argv[++i];
    else usage();
  }
  if (i >= argc) usage();
  char **cmd = argv + i;

  /* The status channel is opened here, on the host side of every namespace,
   * and never reaches the worker (close-on-exec). */
  if (status_file) {
    status_fd = open(status_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (status_fd < 0) fail("open status file", errno, status_file);
  } else if (status_fd >= 0) {
    if (fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) fail("status fd", errno, NULL);
  }
  if (status_fd >= 0) status_out = fdopen(status_fd, "w");

  /* 1. Die with the runner, even when it is SIGKILLed. The parent may have
   *    died before the prctl: then we were reparented, so re-check. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail("prctl", errno, NULL);
  if (parent_pid && getppid() != parent_pid) _exit(EXIT_LAUNCHER);

  /* 2. Join the cgroups first: everything forked from here on is inside.
   *    Moving a process by writing its pid to cgroup.procs takes the
   *    kernel's global threadgroup lock, whose first writer after an idle
   *    spell waits for an RCU grace period: 6-15 ms measured here, more than
   *    the rest of the sandbox. Two ways around it:
   *    - v1: a thread that moves only itself ("0" into `tasks`) skips that
   *      lock; we are single-threaded, so that moves the whole process;
   *    - v2: clone3(CLONE_INTO_CGROUP) puts init in the cgroup as it is
   *      forked (step 5), also without the lock.
   *    The pid write stays as the fallback (clone3 is ENOSYS under Docker's
   *    seccomp profile; CLONE_INTO_CGROUP needs Linux 5.7), and is what
   *    rootless uses: it joins here, before the user namespace exists, as
   *    delegation was designed for (clone3 would come after it). */
  int v2_dir = -1;
  const char *v2_procs = NULL;
  for (int c = 0; c < ncgroups; c++) {
    char dir[PATH_MAX], tasks[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s", cgroups[c]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    snprintf(tasks, sizeof tasks, "%s/tasks", dir);
    if (access(tasks, W_OK) == 0) {
      if (write_file(tasks, "0\n") < 0) fail("join cgroup", errno, tasks);
    } else if (!no_clone3 && !userns && v2_dir < 0 && (v2_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
      v2_procs = cgroups[c];
    } else if (join_by_pid(cgroups[c]) < 0) {
      fail("join cgroup", errno, cgroups[c]);
    }
  }

  /* 3. Rootless: a user namespace where we are root, mapped to our own ids.
   *    setgroups must be denied before an unprivileged gid_map is written. */
  if (userns) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER) < 0) fail("unshare user namespace", errno, NULL);
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) fail("setgroups deny", errno, NULL);
    snprintf(map, sizeof map, "0 %u 1\n", uid);
    if (write_file("/proc/self/uid_map", map) < 0) fail("uid_map", errno, map);
    snprintf(map, sizeof map, "0 %u 1\n", gid);
    if (write_file("/proc/self/gid_map", map) < 0) fail("gid_map", errno, map);
  }

  /* 4. The other namespaces. CLONE_NEWPID applies to our next child. */
  int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  if (newnet) flags |= CLONE_NEWNET;
  if (unshare(flags) < 0) fail("unshare namespaces", errno, NULL);
  /* systemd makes / shared: without this, the sandbox's first mount would
   * propagate to the host. Nothing may run before it. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail("make / private", errno, NULL);

  /* 5. Block what we relay (and SIGCHLD) before forking, so neither we nor
   *    init lose a signal; both take them with sigwaitinfo. */
  sigset_t waited;
  sigemptyset(&waited);
  int relay[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t s = 0; s < sizeof relay / sizeof relay[0]; s++) sigaddset(&waited, relay[s]);
  sigprocmask(SIG_BLOCK, &waited, NULL);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) fail("socketpair", errno, NULL);
  pid_t init = fork_into(v2_dir);
  if (init < 0 && v2_dir >= 0) {
    /* No clone3 or no CLONE_INTO_CGROUP here: join the slow way, then fork. */
    if (join_by_pid(v2_procs) < 0) fail("join cgroup", errno, v2_procs);
    init = fork();
  }
  if (init < 0) fail("fork init", errno, NULL);
  if (init == 0) {
    close(sv[0]);
    if (v2_dir >= 0) close(v2_dir);
    /* A cgroup namespace rooted at the sandbox's cgroup: init is in it by
     * now (it was forked into it), the outer process may not be. */
    if (cgroupns && unshare(CLONE_NEWCGROUP) < 0) fail("unshare cgroup namespace", errno, NULL);
    run_init(sv[1], cmd, &waited);
  }
  if (v2_dir >= 0) close(v2_dir);
  close(sv[1]);
  if (status_out) { fclose(status_out); status_out = NULL; status_fd = -1; }

  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&waited, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      if (si.si_code != SI_KERNEL) kill(init, sig);
      continue;
    }
    int st;
    pid_t pid = waitpid(init, &st, WNOHANG);
    if (pid != init) continue;
    int wstatus;
    if (read(sv[0], &wstatus, sizeof wstatus) != (ssize_t)sizeof wstatus) {
      /* init died without a word: it was killed (or failed and said why). */
      if (WIFSIGNALED(st)) wstatus = st;
      else _exit(WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_LAUNCHER);
    }
    if (WIFSIGNALED(wstatus)) {
      /* End the way the worker ended, so the runner sees the real signal. */
      int s = WTERMSIG(wstatus);
      signal(s, SIG_DFL);
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, s);
      sigprocmask(SIG_UNBLOCK, &one, NULL);
      prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core file of ours */
      raise(s);
      _exit(128 + s);
    }
    _exit(WEXITSTATUS(wstatus));
  }
}
