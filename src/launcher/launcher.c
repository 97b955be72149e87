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
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
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
#include <time.h>
#include <unistd.h>

#define EXIT_LAUNCHER 125 /* the launcher itself failed; see status JSON */
#define MAX_CGROUPS 16
#define MAX_LEAKS 256
#define MAX_WRITES 2000
#define MAX_KEEP_FDS 16
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
static int leaks_truncated;

struct leak {
  long pid;
  char state; /* from /proc/<pid>/stat: R and D are on their way somewhere (an exec, say) */
  long cpu;   /* its utime + stime, in ticks */
  char cmd[4096];
};
/* Two readings and the first one, MAX_LEAKS each (3 MB): allocated when a
 * sandbox leaves something. Most leave nothing, and a static buffer that
 * size made every launch slower though untouched (docs/performance.md). */
static struct leak *leak_lists;

/* Any child left, reaped or not? None means no process left in the sandbox
 * but us: an orphan is reparented to PID 1 (or to us, the subreaper). */
static int has_children(void) {
  siginfo_t info;
  return !(waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD);
}

/* --no-namespaces: no PID namespace, so no PID 1; the launcher is the
 * sandbox's subreaper instead, and what it left is what descends from it. */
static int no_namespaces;

/* The processes that descend from us (the host's /proc: every orphan of the
 * tree was reparented to us, a subreaper). Sorted by pid, at most `max`; -1
 * when the host's process table could not be held. */
static int descendants(long *out, int max) {
  /* The host's processes, as many as it has (a table grown as /proc is read). */
  static struct { long pid, ppid; char ours; } *procs;
  static int cap;
  int n = 0;
  /* No child at all, no descendant. The common end (nothing leaked) then
   * costs no pass over the host's /proc, whose size is every process of the host. */
  if (!has_children()) return 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char *end, path[64], stat[512];
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t sn = fd >= 0 ? read(fd, stat, sizeof stat - 1) : -1;
    if (fd >= 0) close(fd);
    char *paren = sn > 0 ? (stat[sn] = 0, strrchr(stat, ')')) : NULL;
    long ppid;
    if (!paren || sscanf(paren + 2, "%*c %ld", &ppid) != 1) continue;
    if (n == cap) {
      void *grown = realloc(procs, sizeof *procs * (size_t)(cap ? cap * 2 : 1024));
      if (!grown) { closedir(d); return -1; }
      procs = grown;
      cap = cap ? cap * 2 : 1024;
    }
    procs[n].pid = pid;
    procs[n].ppid = ppid;
    procs[n++].ours = 0;
  }
  if (d) closedir(d);
  /* Ours: our children, their children, ... (a few passes: trees are shallow). */
  long self = getpid();
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < n; i++) {
      if (procs[i].ours) continue;
      int hit = procs[i].ppid == self;
      for (int j = 0; !hit && j < n; j++) hit = procs[j].ours && procs[j].pid == procs[i].ppid;
      if (hit) procs[i].ours = changed = 1;
    }
  }
  int count = 0;
  for (int i = 0; i < n && count < max; i++)
    if (procs[i].ours) out[count++] = procs[i].pid;
  return count;
}

/* One pass over /proc: every process of the sandbox but us that has not
 * ended, with its command line (its comm for one without: a kernel thread's
 * kind), into `out` (NULL when we have no child: then there is nothing to
 * read). -1 when /proc is not the sandbox's own. */
static int read_leaks(struct leak *out) {
  static long candidates[MAX_LEAKS + 1];
  int ncandidates = -1;
  DIR *d = NULL;
  leaks_truncated = 0;
  if (no_namespaces) {
    ncandidates = descendants(candidates, MAX_LEAKS + 1);
    if (ncandidates <= 0) return ncandidates;
  } else {
    char self[32] = {0};
    if (readlink("/proc/self", self, sizeof self - 1) < 0 || strcmp(self, "1") != 0) return -1;
    if (!has_children()) return 0;
    d = opendir("/proc");
    if (!d) return -1;
  }
  if (!out) { /* a child appeared after all (it cannot: nothing here forks meanwhile) */
    if (d) closedir(d);
    return -1;
  }
  struct dirent *e;
  int count = 0, next = 0;
  for (;;) {
    long pid;
    if (d) {
      if (!(e = readdir(d))) break;
      char *end;
      pid = strtol(e->d_name, &end, 10);
      if (*end || pid <= 1) continue;
    } else {
      if (next >= ncandidates) break;
      pid = candidates[next++];
    }
    if (count >= MAX_LEAKS) { leaks_truncated = 1; break; }
    char path[64], *buf = out[count].cmd;
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof out[count].cmd - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) { /* no command line: fall back to comm */
      snprintf(path, sizeof path, "/proc/%ld/comm", pid);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      n = fd >= 0 ? read(fd, buf, sizeof out[count].cmd - 1) : -1;
      if (fd >= 0) close(fd);
      if (n < 0) continue; /* already gone */
      if (n > 0 && buf[n - 1] == '\n') n--;
    }
    while (n > 0 && buf[n - 1] == '\0') n--;
    for (ssize_t i = 0; i < n; i++) if (buf[i] == '\0') buf[i] = ' ';
    buf[n] = 0;
    char stat[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t sn = fd >= 0 ? read(fd, stat, sizeof stat - 1) : -1;
    if (fd >= 0) close(fd);
    char *paren = sn > 0 ? (stat[sn] = 0, strrchr(stat, ')')) : NULL;
    out[count].state = paren && paren[1] ? paren[2] : 'Z';
    unsigned flags = 0;
    long utime = 0, stime = 0;
    if (paren) sscanf(paren + 2, "%*c %*d %*d %*d %*d %*d %u %*u %*u %*u %*u %ld %ld", &flags, &utime, &stime);
    /* Ended (a zombie) or ending (PF_EXITING, its command line already gone: it would read as its thread's
     * name, "MainThread"): not a process left running. */
    if (out[count].state == 'Z' || out[count].state == 'X' || (flags & 0x4)) continue;
    out[count].cpu = utime + stime;
    out[count++].pid = pid;
  }
  if (d) closedir(d);
  return count;
}

/* The test a leak was started for: NS_ISOLATED_TEST in its environment (the
 * runners' trackers set it while a test runs, and every process the test
 * starts inherits it, however many forks, setsids and execs away). NULL
 * when it has none. */
static const char *test_of(long pid, size_t *len) {
  enum { ENV_MAX = 256 * 1024 };
  static char *env; /* allocated for the first leak, as the leak lists are */
  static const char key[] = "NS_ISOLATED_TEST=";
  char path[64];
  if (!env && !(env = malloc(ENV_MAX))) return NULL;
  snprintf(path, sizeof path, "/proc/%ld/environ", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t n = 0;
  ssize_t r;
  while (n < ENV_MAX - 1 && (r = read(fd, env + n, ENV_MAX - 1 - n)) > 0) n += (size_t)r;
  close(fd);
  env[n] = 0;
  for (size_t at = 0; at < n; at += strlen(env + at) + 1) {
    if (strncmp(env + at, key, sizeof key - 1) != 0) continue;
    const char *v = env + at + sizeof key - 1;
    *len = strlen(v);
    return *len ? v : NULL;
  }
  return NULL;
}

/* What is still alive once the worker is gone, by the command it runs. A
 * leak is often caught between fork and exec (a shell's `setsid sleep &`:
 * still "sh", then "setsid", then "sleep"), so the list is read again until
 * two readings agree and each process in it has settled: it sleeps or is
 * stopped, or it keeps running on CPU of its own (a spinner: 50 ms since the
 * first reading). Counted in the process's own CPU, not in time, so a busy
 * machine that keeps a runnable process waiting does not cut the wait short.
 * What ends a wait that never settles is counted the same way: 1000
 * readings that changed (a tree that keeps forking), or 60 s (a process
 * stuck in the kernel). The final command is named. */
static int list_leaks(FILE *f) {
  /* No child left, nothing leaked (the common end): no lists to allocate. */
  if (!leak_lists && has_children() && !(leak_lists = calloc(3 * MAX_LEAKS, sizeof *leak_lists))) {
    leaks_truncated = 0;
    return -1;
  }
  struct leak *now = leak_lists, *next = leak_lists ? leak_lists + MAX_LEAKS : NULL;
  struct leak *first = leak_lists ? leak_lists + 2 * MAX_LEAKS : NULL;
  int count = read_leaks(now);
  if (count <= 0) return count;
  int nfirst = count;
  memcpy(first, now, sizeof(struct leak) * (size_t)nfirst);
  struct timespec start, t;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long ticks = sysconf(_SC_CLK_TCK);
  for (int changed = 0; count > 0 && changed < 1000;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - start.tv_sec >= 60) break;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 2 * 1000 * 1000};
    nanosleep(&pause, NULL);
    int again = read_leaks(next);
    int same = again == count;
    for (int i = 0; same && i < count; i++) same = now[i].pid == next[i].pid && strcmp(now[i].cmd, next[i].cmd) == 0;
    if (!same) changed++;
    int settled = same;
    for (int i = 0; settled && i < count; i++) {
      if (!settled || (next[i].state != 'R' && next[i].state != 'D')) continue;
      long ran = next[i].cpu;
      for (int j = 0; j < nfirst; j++)
        if (first[j].pid == next[i].pid) { ran -= first[j].cpu; break; }
      settled = ran * 1000 >= 50 * ticks; /* running on its own: a spinner */
    }
    struct leak *swap = now;
    now = next;
    next = swap;
    count = again;
    if (settled) break;
  }
  for (int i = 0; i < count; i++) {
    fprintf(f, "%s{\"pid\":%ld,\"cmd\":", i ? "," : "", now[i].pid);
    json_str(f, now[i].cmd, strlen(now[i].cmd));
    size_t tn;
    const char *test = test_of(now[i].pid, &tn);
    if (test) {
      fputs(",\"test\":", f);
      json_str(f, test, tn);
    }
    fputc('}', f);
  }
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

/* kill(-1) from PID 1 reaches every process of the namespace, but not one
 * forked while it ran (a fork bomb outruns a single pass): again, until no
 * process is left to signal, reaping as they die. */
static void kill_everything(void) {
  if (no_namespaces) { /* each descendant, again until none is left */
    static long pids[256]; /* a pass kills at most these; the next pass the rest */
    int n;
    while ((n = descendants(pids, 256)) > 0) {
      for (int i = 0; i < n; i++) kill((pid_t)pids[i], SIGKILL);
      if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) break;
      while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    if (n < 0) fail("list the sandbox's processes", ENOMEM, NULL); /* never a silent survivor */
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    return;
  }
  while (kill(-1, SIGKILL) == 0) {
    if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) break;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
  }
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
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
  if (leaks_truncated) fputs("\"leaksTruncated\":true,", f);
  /* Everything left is killed before its writes are listed, so the list is final. */
  kill_everything();
  fputs("\"writes\":[", f);
  int writes = list_writes(f);
  /* Every process of the sandbox was reaped by us or by a reaped ancestor, so
   * our children's rusage covers the whole tree: the figures without a cgroup. */
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  fprintf(f, "],\"writesTruncated\":%s,\"writesUnknown\":%s,", walk_truncated ? "true" : "false",
          writes < 0 ? "true" : "false");
  /* The sandbox's one bounded tmpfs (root's upper layers, /tmp, /dev, /dev/shm): how full it ended. */
  struct statvfs sv;
  if (statvfs(STAGING, &sv) == 0)
    fprintf(f, "\"tmpfs\":{\"sizeBytes\":%llu,\"usedBytes\":%llu},",
            (unsigned long long)sv.f_blocks * sv.f_frsize,
            (unsigned long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize);
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
 *   B src target flags        bind a path of the HOST's tree (in a reset: the held one), must work
 *   b src target flags        the same, may fail (a device the host lacks)
 *   O lower target index path userxattr [mode]   overlay lower at target (upper/work in
 *                             STAGING_HOST/upper|work/index; mode: its root's); if refused:
 *                             a read-only bind, noted as degraded
 *   R target                  make a mount and everything below it read-only, must work
 *   L target linkpath         symlink
 *   T path                    create an empty file
 *   F src dst                 copy a file (failure noted as degraded)
 *   N text                    a degraded note decided by the host
 *   H hostname                sethostname
 *   U                         bring lo up
 *   Q                         open the sandbox's resolver (127.0.0.11:53), served by PID 1
 *   W path text               write a file
 *   P newroot cwd             write the manifest, pivot_root, detach the old root, chdir
 *  then, in the new root, what the command may do (skipped in a reset):
 *   I uid gid                 enter a user namespace of our own as uid/gid (rootless: run
 *                             as the caller, with no privilege over the sandbox's mounts)
 *   C capmask                 keep only these capabilities, bounding set included (hex)
 *   S flags [nsmask]          no_new_privs and the seccomp filter; flags: 'n' mount calls
 *                             go to PID 1 (nested sandboxes), 'm' mount calls are allowed
 *                             (CAP_SYS_ADMIN was asked for); nsmask: clone/unshare flags refused
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
/* The degraded notes (a JSON array's items) and the overlays' manifest: both
 * grow with the host (one line per overlay), so they are sized as they go. */
static char *notes;
static size_t notes_len;
static char *manifest;
static size_t manifest_len;

static void setup_fail(const char *code, const char *op, int err, const char *path);

static void append(char **buf, size_t *len, const char *text, size_t n) {
  char *grown = realloc(*buf, *len + n + 1);
  if (!grown) setup_fail("ENS_LAUNCHER_FAILED", "out of memory", ENOMEM, "");
  memcpy(grown + *len, text, n);
  *len += n;
  grown[*len] = 0;
  *buf = grown;
}

static void note(const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  char *json = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&json, &n);
  if (!f) setup_fail("ENS_LAUNCHER_FAILED", "out of memory", ENOMEM, "");
  if (notes_len) fputc(',', f);
  json_str(f, text, strlen(text));
  fclose(f);
  append(&notes, &notes_len, json, n);
  free(json);
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

/* A mount and every mount below it read-only. mount_setattr (Linux 5.12)
 * does the subtree in one call; before it, each mount is remounted. */
static int make_readonly(const char *target) {
  struct nsi_mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
  if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &ro, sizeof ro) == 0) return 0;
  if (errno != ENOSYS) return -1;
  if (remount_ro(target) < 0) return -1;
  FILE *m = fopen("/proc/self/mountinfo", "re");
  if (!m) return -1;
  char line[PATH_MAX * 2], point[PATH_MAX];
  size_t len = strlen(target);
  int rc = 0;
  while (fgets(line, sizeof line, m))
    if (sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 && strncmp(point, target, len) == 0 && point[len] == '/')
      if (remount_ro(point) < 0) rc = -1; /* (mountinfo escapes spaces; such paths fail closed) */
  fclose(m);
  return rc;
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

/* ---------- worker: what the command may do ----------------------------- */
/*
 * After the setup, before exec: the command gets no more privilege than
 * Docker's default profile gives a container (docs/security.md). The host
 * decides the capability set and the filter's variant; this file builds them.
 *
 * The seccomp filter refuses what lets a process reach past its namespaces
 * (modules, kexec, keyrings, open_by_handle_at, bpf, perf, the clock, swap,
 * quotas, reboot, setns) for the native and the 32-bit entry points, and
 * answers clone3 and io_uring with ENOSYS, so callers fall back to calls it
 * can inspect. Mount calls go to PID 1 (SC_MOUNT): it lets them through only
 * for a user namespace the command made itself, which is how a nested
 * sandbox is built and all such a namespace can reach (the kernel checks
 * privilege there, and the mounts it copied are locked).
 */
enum { SC_EPERM, SC_ENOSYS, SC_MOUNT, SC_NSFLAGS };
struct sc_rule { int nr; int act; };

/* Calls added since Linux 5.1 have one number on every arch. */
#define SC_UNIFIED                                                                                       \
  {425, SC_ENOSYS} /* io_uring_setup */, {426, SC_ENOSYS} /* io_uring_enter */,                           \
      {427, SC_ENOSYS} /* io_uring_register */, {428, SC_MOUNT} /* open_tree */,                          \
      {429, SC_MOUNT} /* move_mount */, {430, SC_MOUNT} /* fsopen */, {431, SC_MOUNT} /* fsconfig */,     \
      {432, SC_MOUNT} /* fsmount */, {433, SC_MOUNT} /* fspick */, {435, SC_ENOSYS} /* clone3 */,         \
      {442, SC_MOUNT} /* mount_setattr */, {443, SC_EPERM} /* quotactl_fd */,                             \
      {467, SC_MOUNT} /* open_tree_attr */

#if defined(__NR_io_uring_setup) && defined(__NR_open_tree) && defined(__NR_clone3) && defined(__NR_quotactl_fd)
_Static_assert(__NR_io_uring_setup == 425 && __NR_open_tree == 428 && __NR_clone3 == 435 && __NR_mount_setattr == 442 &&
                   __NR_quotactl_fd == 443,
               "the unified syscall numbers");
#endif

/* Calls some arches never had: -1 is skipped. */
#ifndef __NR_iopl
#define __NR_iopl -1
#endif
#ifndef __NR_ioperm
#define __NR_ioperm -1
#endif
#ifndef __NR_uselib
#define __NR_uselib -1
#endif
#ifndef __NR_ustat
#define __NR_ustat -1
#endif
#ifndef __NR_sysfs
#define __NR_sysfs -1
#endif
#ifndef __NR__sysctl
#define __NR__sysctl -1
#endif
#ifndef __NR_nfsservctl
#define __NR_nfsservctl -1
#endif
#ifndef __NR_create_module
#define __NR_create_module -1
#endif
#ifndef __NR_get_kernel_syms
#define __NR_get_kernel_syms -1
#endif
#ifndef __NR_query_module
#define __NR_query_module -1
#endif
static const struct sc_rule native_rules[] = {
    {__NR_keyctl, SC_EPERM}, {__NR_add_key, SC_EPERM}, {__NR_request_key, SC_EPERM},
    {__NR_open_by_handle_at, SC_EPERM}, {__NR_init_module, SC_EPERM}, {__NR_finit_module, SC_EPERM},
    {__NR_delete_module, SC_EPERM}, {__NR_kexec_load, SC_EPERM}, {__NR_kexec_file_load, SC_EPERM},
    {__NR_bpf, SC_EPERM}, {__NR_perf_event_open, SC_EPERM}, {__NR_swapon, SC_EPERM},
    {__NR_swapoff, SC_EPERM}, {__NR_settimeofday, SC_EPERM}, {__NR_clock_settime, SC_EPERM},
    {__NR_clock_adjtime, SC_EPERM}, {__NR_adjtimex, SC_EPERM}, {__NR_acct, SC_EPERM},
    {__NR_quotactl, SC_EPERM}, {__NR_reboot, SC_EPERM},
    {__NR_syslog, SC_EPERM}, {__NR_lookup_dcookie, SC_EPERM}, {__NR_userfaultfd, SC_EPERM},
    {__NR_vhangup, SC_EPERM}, {__NR_setns, SC_EPERM}, {__NR_iopl, SC_EPERM},
    {__NR_ioperm, SC_EPERM}, {__NR_uselib, SC_EPERM}, {__NR_ustat, SC_EPERM},
    {__NR_sysfs, SC_EPERM}, {__NR__sysctl, SC_EPERM}, {__NR_nfsservctl, SC_EPERM},
    {__NR_create_module, SC_EPERM}, {__NR_get_kernel_syms, SC_EPERM}, {__NR_query_module, SC_EPERM},
    {__NR_mount, SC_MOUNT}, {__NR_umount2, SC_MOUNT}, {__NR_pivot_root, SC_MOUNT},
    {__NR_unshare, SC_NSFLAGS}, {__NR_clone, SC_NSFLAGS},
    SC_UNIFIED,
};
#if defined(__x86_64__)
/* i386 (int 0x80 on x86_64), from asm/unistd_32.h. */
static const struct sc_rule compat_rules[] = {
    {21, SC_MOUNT} /* mount */,
    {22, SC_MOUNT} /* umount */,
    {25, SC_EPERM} /* stime */,
    {51, SC_EPERM} /* acct */,
    {52, SC_MOUNT} /* umount2 */,
    {62, SC_EPERM} /* ustat */,
    {79, SC_EPERM} /* settimeofday */,
    {86, SC_EPERM} /* uselib */,
    {87, SC_EPERM} /* swapon */,
    {88, SC_EPERM} /* reboot */,
    {101, SC_EPERM} /* ioperm */,
    {103, SC_EPERM} /* syslog */,
    {110, SC_EPERM} /* iopl */,
    {111, SC_EPERM} /* vhangup */,
    {113, SC_EPERM} /* vm86old */,
    {115, SC_EPERM} /* swapoff */,
    {120, SC_NSFLAGS} /* clone */,
    {124, SC_EPERM} /* adjtimex */,
    {127, SC_EPERM} /* create_module */,
    {128, SC_EPERM} /* init_module */,
    {129, SC_EPERM} /* delete_module */,
    {130, SC_EPERM} /* get_kernel_syms */,
    {131, SC_EPERM} /* quotactl */,
    {135, SC_EPERM} /* sysfs */,
    {149, SC_EPERM} /* _sysctl */,
    {166, SC_EPERM} /* vm86 */,
    {167, SC_EPERM} /* query_module */,
    {169, SC_EPERM} /* nfsservctl */,
    {217, SC_MOUNT} /* pivot_root */,
    {253, SC_EPERM} /* lookup_dcookie */,
    {264, SC_EPERM} /* clock_settime */,
    {283, SC_EPERM} /* kexec_load */,
    {286, SC_EPERM} /* add_key */,
    {287, SC_EPERM} /* request_key */,
    {288, SC_EPERM} /* keyctl */,
    {310, SC_NSFLAGS} /* unshare */,
    {336, SC_EPERM} /* perf_event_open */,
    {342, SC_EPERM} /* open_by_handle_at */,
    {343, SC_EPERM} /* clock_adjtime */,
    {346, SC_EPERM} /* setns */,
    {350, SC_EPERM} /* finit_module */,
    {357, SC_EPERM} /* bpf */,
    {374, SC_EPERM} /* userfaultfd */,
    {404, SC_EPERM} /* clock_settime64 */,
    {405, SC_EPERM} /* clock_adjtime64 */,
    SC_UNIFIED};
#elif defined(__aarch64__)
/* 32-bit ARM (EABI) on arm64, from arch/arm/tools/syscall.tbl. */
static const struct sc_rule compat_rules[] = {
    {21, SC_MOUNT} /* mount */,
    {51, SC_EPERM} /* acct */,
    {52, SC_MOUNT} /* umount2 */,
    {62, SC_EPERM} /* ustat */,
    {79, SC_EPERM} /* settimeofday */,
    {86, SC_EPERM} /* uselib */,
    {87, SC_EPERM} /* swapon */,
    {88, SC_EPERM} /* reboot */,
    {103, SC_EPERM} /* syslog */,
    {111, SC_EPERM} /* vhangup */,
    {115, SC_EPERM} /* swapoff */,
    {120, SC_NSFLAGS} /* clone */,
    {124, SC_EPERM} /* adjtimex */,
    {128, SC_EPERM} /* init_module */,
    {129, SC_EPERM} /* delete_module */,
    {131, SC_EPERM} /* quotactl */,
    {135, SC_EPERM} /* sysfs */,
    {169, SC_EPERM} /* nfsservctl */,
    {218, SC_MOUNT} /* pivot_root */,
    {249, SC_EPERM} /* lookup_dcookie */,
    {262, SC_EPERM} /* clock_settime */,
    {271, SC_EPERM} /* pciconfig_iobase */,
    {272, SC_EPERM} /* pciconfig_read */,
    {273, SC_EPERM} /* pciconfig_write */,
    {309, SC_EPERM} /* add_key */,
    {310, SC_EPERM} /* request_key */,
    {311, SC_EPERM} /* keyctl */,
    {337, SC_NSFLAGS} /* unshare */,
    {347, SC_EPERM} /* kexec_load */,
    {364, SC_EPERM} /* perf_event_open */,
    {371, SC_EPERM} /* open_by_handle_at */,
    {372, SC_EPERM} /* clock_adjtime */,
    {375, SC_EPERM} /* setns */,
    {379, SC_EPERM} /* finit_module */,
    {386, SC_EPERM} /* bpf */,
    {388, SC_EPERM} /* userfaultfd */,
    {401, SC_EPERM} /* kexec_file_load */,
    {404, SC_EPERM} /* clock_settime64 */,
    {405, SC_EPERM} /* clock_adjtime64 */,
    SC_UNIFIED};
#endif

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define COMPAT_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define COMPAT_ARCH AUDIT_ARCH_ARM
#else
#error "ns-isolated-launcher: seccomp tables exist for x86_64 and aarch64 only"
#endif

#define SC_MAX 512
struct sc_prog {
  struct sock_filter ins[SC_MAX];
  unsigned short len;
  uint32_t mount_ret;  /* what SC_MOUNT returns */
  uint32_t ns_refused; /* clone/unshare flags refused (CLONE_NEWCGROUP where it would reach our caps) */
};

static void sc_emit(struct sc_prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
  if (p->len >= SC_MAX) setup_fail("ENS_LAUNCHER_FAILED", "seccomp filter too long", E2BIG, "");
  p->ins[p->len++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

static unsigned sc_action_len(const struct sc_prog *p, int act) {
  return act == SC_NSFLAGS && p->ns_refused ? 4 : 1;
}

static void sc_action(struct sc_prog *p, int act) {
  switch (act) {
  case SC_EPERM: sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM); break;
  case SC_ENOSYS: sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS); break;
  case SC_MOUNT: sc_emit(p, BPF_RET | BPF_K, 0, 0, p->mount_ret); break;
  default:
    if (!p->ns_refused) { sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW); break; }
    /* The flags are the first argument of clone and unshare on every arch here. */
    sc_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, args[0]));
    sc_emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, p->ns_refused);
    sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM);
    sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
  }
}

/* A binary search over the sorted numbers (a few comparisons a call, not
 * one per rule): small ranges are linear, larger ones split on JGE. */
static unsigned sc_tree_len(const struct sc_prog *p, const struct sc_rule *r, size_t n) {
  if (n <= 4) {
    unsigned len = 1;
    for (size_t i = 0; i < n; i++) len += 1 + sc_action_len(p, r[i].act);
    return len;
  }
  return 1 + sc_tree_len(p, r, n / 2) + sc_tree_len(p, r + n / 2, n - n / 2);
}

static void sc_tree(struct sc_prog *p, const struct sc_rule *r, size_t n) {
  if (n <= 4) {
    for (size_t i = 0; i < n; i++) {
      sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)sc_action_len(p, r[i].act), (uint32_t)r[i].nr);
      sc_action(p, r[i].act);
    }
    sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    return;
  }
  unsigned left = sc_tree_len(p, r, n / 2);
  if (left > 255) setup_fail("ENS_LAUNCHER_FAILED", "seccomp filter too wide", E2BIG, "");
  sc_emit(p, BPF_JMP | BPF_JGE | BPF_K, (uint8_t)left, 0, (uint32_t)r[n / 2].nr);
  sc_tree(p, r, n / 2);
  sc_tree(p, r + n / 2, n - n / 2);
}

static int sc_cmp(const void *a, const void *b) {
  int x = ((const struct sc_rule *)a)->nr, y = ((const struct sc_rule *)b)->nr;
  return (x > y) - (x < y);
}

/* One arch's rules, sorted, without the calls that arch lacks. */
static void sc_arch(struct sc_prog *p, const struct sc_rule *rules, size_t count, int x32) {
  struct sc_rule sorted[128];
  size_t n = 0;
  for (size_t i = 0; i < count && n < 128; i++)
    if (rules[i].nr >= 0) sorted[n++] = rules[i];
  qsort(sorted, n, sizeof sorted[0], sc_cmp);
  sc_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
  if (x32) { /* x32 calls (nr | 0x40000000): nobody's tests need them */
    sc_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000);
    sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS);
  }
  sc_tree(p, sorted, n);
}

static void sc_build(struct sc_prog *p) {
  p->len = 0;
  sc_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
  sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, NATIVE_ARCH);
  sc_emit(p, BPF_JMP | BPF_JA, 0, 0, 3); /* to the native block */
  sc_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, COMPAT_ARCH);
  sc_emit(p, BPF_JMP | BPF_JA, 0, 0, 0); /* to the compat block: k set below */
  sc_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS); /* an arch we have no table for */
  sc_arch(p, native_rules, sizeof native_rules / sizeof native_rules[0], NATIVE_ARCH == AUDIT_ARCH_X86_64);
  p->ins[4].k = p->len - 5u;
  sc_arch(p, compat_rules, sizeof compat_rules / sizeof compat_rules[0], 0);
}

/* Where the worker hands PID 1 what PID 1 serves once the command runs (the
 * seccomp listener, the resolver's socket): a socketpair made before the
 * worker is forked. One message each: a tag, a number, the fd. */
static int notify_sock = -1;

static void hand_to_init(char tag, uint64_t value, int fd) {
  struct { char tag; uint64_t value; } body = {tag, value};
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = &body, .iov_len = sizeof body};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (notify_sock < 0 || sendmsg(notify_sock, &msg, 0) < 0) setup_fail("ENS_LAUNCHER_FAILED", "hand to PID 1", errno, "");
  close(fd);
}

/* S: no_new_privs, then the filter. With 'n', mount calls wait for PID 1's
 * verdict; a sandbox inside a sandbox finds a listener above it already
 * (EBUSY: one per chain), and refuses mount calls itself instead. */
static void lock_syscalls(const char *flags, const char *nsmask) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) setup_fail("ENS_LAUNCHER_FAILED", "no_new_privs", errno, "");
  static struct sc_prog prog;
  int notify = strchr(flags, 'n') != NULL;
  prog.ns_refused = nsmask ? (uint32_t)strtoul(nsmask, NULL, 16) : 0;
  prog.mount_ret = strchr(flags, 'm') ? SECCOMP_RET_ALLOW : notify ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ERRNO | EPERM;
  sc_build(&prog);
  struct sock_fprog fprog = {.len = prog.len, .filter = prog.ins};
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &fprog);
  if (fd < 0 && notify && errno == EBUSY) {
    prog.mount_ret = SECCOMP_RET_ERRNO | EPERM;
    sc_build(&prog);
    notify = 0;
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
  }
  if (fd < 0) setup_fail("ENS_LAUNCHER_FAILED", "seccomp filter", errno, "");
  if (!notify) return;
  /* Hand the listener to PID 1, with the user namespace the command runs in
   * (mount calls from it are refused: only namespaces it makes are its own). */
  struct stat st;
  hand_to_init('L', stat("/proc/self/ns/user", &st) == 0 ? (uint64_t)st.st_ino : 0, (int)fd);
}

/* Q: the sandbox's resolver, at 127.0.0.11:53 as Docker's embedded DNS:
 * PID 1 answers every query NXDOMAIN, so a name /etc/hosts does not know
 * fails at once (ENOTFOUND), and no lookup leaves the sandbox. Bound here,
 * before the command runs, so nothing else can take the address first. */
static void open_resolver(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(0x7f00000b)};
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) setup_fail("ENS_NETWORK_FAILED", "resolver", errno, "127.0.0.11:53");
  hand_to_init('D', 0, fd);
}

/* C: the capabilities the command keeps, from the bounding set down (so an
 * exec cannot bring more back), ambient ones cleared. */
static void keep_caps(const char *hexmask) {
  uint64_t keep = strtoull(hexmask, NULL, 16);
  /* Up to the kernel's last capability, which is the first one it calls
   * EINVAL (no read of /proc/sys/kernel/cap_last_cap). */
  for (int cap = 0; cap < 64; cap++) {
    if (keep >> cap & 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    if (errno == EINVAL) break;
    setup_fail("ENS_LAUNCHER_FAILED", "drop capability", errno, "");
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) setup_fail("ENS_LAUNCHER_FAILED", "capget", errno, "");
  for (int i = 0; i < 2; i++) {
    uint32_t k = (uint32_t)(keep >> (32 * i));
    d[i].effective &= k;
    d[i].permitted &= k;
    d[i].inheritable &= k;
  }
  if (syscall(SYS_capset, &h, d) < 0) setup_fail("ENS_LAUNCHER_FAILED", "capset", errno, "");
}

/* I: a user namespace of the command's own, where it is uid/gid; the
 * sandbox's mounts, hostname and network stay owned by the one above, so
 * even as uid 0 here it cannot change them. One line each, mapping our ids
 * above: what an unprivileged process may write. */
static void enter_userns(const char *uid, const char *gid) {
  uid_t above_uid = getuid();
  gid_t above_gid = getgid();
  if (unshare(CLONE_NEWUSER) < 0) setup_fail("ENS_USERNS_DENIED", "unshare user namespace", errno, "");
  char map[64];
  if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
    setup_fail("ENS_USERNS_DENIED", "setgroups deny", errno, "/proc/self/setgroups");
  snprintf(map, sizeof map, "%s %u 1\n", uid, above_uid);
  if (write_file("/proc/self/uid_map", map) < 0) setup_fail("ENS_USERNS_DENIED", "uid_map", errno, map);
  snprintf(map, sizeof map, "%s %u 1\n", gid, above_gid);
  if (write_file("/proc/self/gid_map", map) < 0) setup_fail("ENS_USERNS_DENIED", "gid_map", errno, map);
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
  mode_t umask_was = umask(0); /* the modes the plan names are the modes made */
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
      /* The overlay's root takes the upper dir's owner and mode: where the host
       * decided another mode (rootless: a directory not the caller's), set it. */
      if (n > 6 && chmod(upper, (mode_t)strtol(f[6], NULL, 8)) < 0) setup_fail("ENS_MOUNT_FAILED", "chmod", errno, upper);
      const char *lower = lowerpath(f[1], b1, sizeof b1);
      opts[0] = 0;
      overlay_opt(opts, sizeof opts, "lowerdir", lower);
      overlay_opt(opts, sizeof opts, "upperdir", upper);
      overlay_opt(opts, sizeof opts, "workdir", work);
      if (f[5][0] == '1') strcat(opts, ",userxattr");
      if (mount("overlay", f[2], "overlay", MS_NODEV, opts) == 0) {
        char entry[PATH_MAX + 80];
        int len = snprintf(entry, sizeof entry, "upper/%s\t%s\n", f[3], f[4]);
        if (len < 0 || (size_t)len >= sizeof entry) setup_fail("ENS_MOUNT_FAILED", "manifest", ENAMETOOLONG, f[4]);
        append(&manifest, &manifest_len, entry, (size_t)len);
        break;
      }
      int err = errno;
      if (mount(lower, f[2], NULL, MS_BIND | MS_REC, NULL) < 0) setup_fail("ENS_MOUNT_FAILED", "bind", errno, f[4]);
      if (make_readonly(f[2]) < 0) setup_fail("ENS_MOUNT_FAILED", "make read-only", errno, f[4]);
      note("%s: read-only (overlay refused: %s)", f[4], strerror(err));
      break;
    }
    case 'B':
    case 'b':
      NEED(4);
      if (mount(lowerpath(f[1], b1, sizeof b1), f[2], NULL, strtoul(f[3], NULL, 0), NULL) < 0) {
        if (op == 'B') setup_fail("ENS_MOUNT_FAILED", "bind", errno, f[2]);
      } else if (resetting) {
        /* A bind from the held tree is read-only as the tree is: writable as
         * the host's path is (an 'R' after it makes it read-only again). */
        struct nsi_mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
        if (syscall(SYS_mount_setattr, AT_FDCWD, f[2], 0, &rw, sizeof rw) < 0 &&
            (errno != ENOSYS || mount(NULL, f[2], NULL, MS_BIND | MS_REMOUNT, NULL) < 0))
          setup_fail("ENS_MOUNT_FAILED", "make writable", errno, f[2]);
      }
      break;
    case 'R':
      NEED(2);
      if (make_readonly(f[1]) < 0) setup_fail("ENS_MOUNT_FAILED", "make read-only", errno, f[1]);
      break;
    case 'I':
      NEED(3);
      if (!resetting) enter_userns(f[1], f[2]);
      break;
    case 'C':
      NEED(2);
      if (!resetting) keep_caps(f[1]);
      break;
    case 'S':
      NEED(2);
      if (!resetting) lock_syscalls(f[1], n > 2 ? f[2] : NULL);
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
    case 'Q':
      if (!resetting) open_resolver(); /* a reset keeps the network, and its resolver */
      break;
    case 'W': {
      NEED(3);
      int fd = open(f[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      size_t len = strlen(f[2]);
      if (fd < 0 || write(fd, f[2], len) != (ssize_t)len) setup_fail("ENS_MOUNT_FAILED", "write", errno, f[1]);
      close(fd);
      break;
    }
    case 'P': {
      NEED(3);
      snprintf(b2, sizeof b2, STAGING_HOST "/manifest");
      int fd = open(b2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || (manifest_len && write(fd, manifest, manifest_len) != (ssize_t)manifest_len))
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
  umask(umask_was);
  if (status_fd >= 0) {
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f) return;
    if (resetting) fprintf(f, "{\"v\":1,\"reset\":{\"degraded\":[%s],\"ipcRemoved\":%d}}\n", notes ? notes : "", ipc_removed);
    else fprintf(f, "{\"v\":1,\"setup\":{\"degraded\":[%s]}}\n", notes ? notes : "");
    fclose(f);
    if (write(status_fd, line, len) < 0) {}
    free(line);
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

/* The seccomp listener (see lock_syscalls): a mount call waits here for a
 * verdict. It goes through (the kernel then checks privilege as usual) only
 * from a user namespace that is neither ours nor the command's own: one the
 * command made, i.e. a nested sandbox's. A process cannot change user
 * namespace while one of its threads waits in a call, and the notification
 * is checked to be still pending after /proc was read, so the pid is the
 * caller's. */
static uint64_t own_userns, command_userns;

static void answer_mount_call(int nfd) {
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  memset(&req, 0, sizeof req);
  if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return;
  memset(&resp, 0, sizeof resp);
  resp.id = req.id;
  resp.error = -EPERM;
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%u/ns/user", req.pid);
  if (stat(path, &st) == 0 && (uint64_t)st.st_ino != own_userns && (uint64_t)st.st_ino != command_userns &&
      ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) == 0) {
    resp.error = 0;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  }
  ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* What the worker handed us before its exec: the seccomp listener ('L', with
 * the command's user namespace), the resolver's socket ('D'). */
static void take_handed(int sock, int *listener, int *resolver) {
  for (;;) {
    struct { char tag; uint64_t value; } body;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &body, .iov_len = sizeof body};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    if (recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != (ssize_t)sizeof body) return;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) continue;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (body.tag == 'L') {
      struct stat st;
      own_userns = stat("/proc/self/ns/user", &st) == 0 ? (uint64_t)st.st_ino : 0;
      command_userns = body.value;
      *listener = fd;
    } else if (body.tag == 'D') *resolver = fd;
    else close(fd);
  }
}

/* One query in, one NXDOMAIN out: the question echoed, no answer. */
static void answer_dns(int fd) {
  unsigned char q[512];
  struct sockaddr_storage from;
  socklen_t len = sizeof from;
  ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &len);
  if (n < 12) return;
  int opcode = (q[2] >> 3) & 0xf;
  q[2] = (unsigned char)(0x80 | (q[2] & 0x79)); /* QR, the opcode and RD kept, AA and TC cleared */
  q[3] = (unsigned char)(0x80 | (opcode == 0 ? 3 : 4)); /* RA; NXDOMAIN, or NOTIMP for what is not a query */
  memset(q + 6, 0, 6); /* no answer, authority or additional records */
  /* The question section runs to the end of the query, but an EDNS record (additional) is dropped. */
  size_t end = 12;
  if (q[4] == 0 && q[5] == 1) {
    while (end < (size_t)n && q[end]) {
      if (q[end] & 0xc0) return; /* a pointer has no place in a question */
      end += (size_t)q[end] + 1;
    }
    end += 5;
    if (end > (size_t)n) return;
  } else {
    q[4] = q[5] = 0;
  }
  sendto(fd, q, end, 0, (struct sockaddr *)&from, len);
}

/* A reset is asked for by the worker alone: the socket reaches whatever the
 * worker spawns (Node cannot mark it close-on-exec), so the kernel-checked
 * sender pid (SO_PASSCRED) decides. 1: a request from the worker, 0: none,
 * -1: the socket is done. */
static int reset_asked(int ctl, pid_t worker) {
  char ask;
  char cbuf[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec iov = {.iov_base = &ask, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t got = recvmsg(ctl, &msg, 0);
  if (got < 0) return errno == EINTR ? 0 : -1;
  if (got == 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_CREDENTIALS) return 0;
  struct ucred cred;
  memcpy(&cred, CMSG_DATA(c), sizeof cred);
  if (cred.pid == worker) return 1;
  if (status_out) { /* said, so a leaked process's attempt is on record */
    fprintf(status_out, "{\"v\":1,\"resetRefused\":{\"pid\":%d}}\n", (int)cred.pid);
    fflush(status_out);
  }
  return 0;
}

/* The plan, from NS_ISOLATED_PLAN and its continuations NS_ISOLATED_PLAN_1,
 * _2, ...: the kernel caps one environment string at 128 KiB, which a host
 * with a few hundred mounts exceeds. `drop`: gone from the environment the
 * command inherits. */
static char *take_plan(int drop) {
  char *plan = NULL;
  size_t len = 0;
  for (int i = 0;; i++) {
    char name[40];
    if (i) snprintf(name, sizeof name, "NS_ISOLATED_PLAN_%d", i);
    else snprintf(name, sizeof name, "NS_ISOLATED_PLAN");
    const char *part = getenv(name);
    if (!part) break;
    append(&plan, &len, part, strlen(part));
    if (drop) unsetenv(name);
  }
  return plan;
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
  /* Keeps our privileges and what we hold (the host's tree in reuse mode)
   * out of reach of the command's processes: no ptrace, no /proc/1/fd. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  /* Reuse: hold the host's tree (still our root) and the plan, and give
   * the worker a socket to ask for resets on. */
  int ctl[2] = {-1, -1};
  char *plan_copy = NULL;
  if (reuse) {
    held_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (held_root < 0) fail("open /", errno, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) fail("socketpair", errno, NULL);
    int on = 1;
    if (setsockopt(ctl[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) fail("reset socket", errno, NULL);
    plan_copy = take_plan(0);
  }
  /* Where the worker hands us its seccomp listener and the resolver's socket. */
  int ns[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ns) < 0) fail("socketpair", errno, NULL);

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
    close(ns[0]);
    notify_sock = ns[1];
    /* Not inherited from us: its /proc files must stay its own (uid_map, setgroups). */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (reuse) {
      char num[16];
      close(ctl[0]);
      close(held_root);
      if (fcntl(ctl[1], F_SETFD, 0) < 0) fail("reset socket", errno, NULL);
      snprintf(num, sizeof num, "%d", ctl[1]);
      setenv("NS_ISOLATED_RESET_FD", num, 1);
    }
    char *plan = take_plan(1);
    if (plan) apply_plan(plan);
    execvp(argv[0], argv);
    int err = errno;
    if (write(execp[1], &err, sizeof err) < 0) {}
    _exit(127);
  }
  close(execp[1]);
  close(ns[1]);
  if (ctl[1] >= 0) close(ctl[1]);
  int exec_err = 0;
  ssize_t got;
  while ((got = read(execp[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR) {}
  close(execp[0]);
  if (got == (ssize_t)sizeof exec_err) {
    waitpid(worker, NULL, 0);
    fail("exec", exec_err, argv[0]);
  }
  int listener = -1, resolver = -1;
  take_handed(ns[0], &listener, &resolver);
  close(ns[0]);

  /* The signals (blocked since before the fork), the reset socket, the listener, the resolver. */
  int sfd = signalfd(-1, waited, SFD_CLOEXEC);
  if (sfd < 0) fail("signalfd", errno, NULL);
  struct pollfd pf[4] = {{.fd = sfd, .events = POLLIN},
                         {.fd = ctl[0], .events = POLLIN},
                         {.fd = listener, .events = POLLIN},
                         {.fd = resolver, .events = POLLIN}};
  int wstatus = 0;
  for (;;) {
    if (poll(pf, 4, -1) < 0) continue;
    if (pf[2].revents & POLLIN) answer_mount_call(listener);
    else if (pf[2].revents) pf[2].fd = -1; /* no filtered process left */
    if (pf[3].revents & POLLIN) answer_dns(resolver);
    if (pf[1].revents) {
      int asked = reset_asked(ctl[0], worker);
      if (asked > 0) reset_sandbox(ctl[0], plan_copy);
      else if (asked < 0) pf[1].fd = -1; /* the worker closed it: no more resets */
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
  else kill_everything();
  /* Tell the outer process how the worker ended, so it can end the same way. */
  if (write(outer_sock, &wstatus, sizeof wstatus) < 0) {}
  _exit(0);
}

/* End the way the worker ended, so the runner sees the real signal. */
static void end_like(int wstatus) {
  if (WIFSIGNALED(wstatus)) {
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

/* ---------- without namespaces: the subreaper ----------------------------- */
/*
 * Where namespaces are refused (Docker's seccomp profile, AppArmor), what
 * needs none still holds: the launcher is a child subreaper, so every
 * process the command leaves (double forks and setsid daemons included)
 * reparents to it; it relays signals, and when the command exits it reports
 * what is left, by its final command, and kills it. The runner's death
 * reaches it as SIGPWR (its PDEATHSIG here), so it kills the tree before it
 * goes. No overlay, hostname, network or /proc of its own: nothing pretends.
 */
static void run_subreaper(char **argv, const sigset_t *waited) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) fail("subreaper", errno, NULL);
  pid_t self = getpid();
  int execp[2];
  if (pipe2(execp, O_CLOEXEC) < 0) fail("pipe", errno, NULL);
  pid_t worker = fork();
  if (worker < 0) fail("fork worker", errno, NULL);
  if (worker == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(execp[0]);
    /* Dies with us; we may have died before the prctl took effect. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != self) _exit(EXIT_LAUNCHER);
    execvp(argv[0], argv);
    int err = errno;
    if (write(execp[1], &err, sizeof err) < 0) {}
    _exit(127);
  }
  close(execp[1]);
  int exec_err = 0;
  ssize_t got;
  while ((got = read(execp[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR) {}
  close(execp[0]);
  if (got == (ssize_t)sizeof exec_err) {
    waitpid(worker, NULL, 0);
    fail("exec", exec_err, argv[0]);
  }
  /* The command runs: said as a sandbox says its setup is done (a runner waits for it). */
  if (status_fd >= 0) {
    static const char setup[] = "{\"v\":1,\"setup\":{\"degraded\":[]}}\n";
    if (write(status_fd, setup, sizeof setup - 1) < 0) {}
  }
  int wstatus = 0;
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(waited, &si);
    if (sig < 0) continue;
    if (sig == SIGPWR) { /* the runner is gone: take the tree along */
      kill_everything();
      _exit(EXIT_LAUNCHER);
    }
    if (sig != SIGCHLD) {
      if (forwarded(sig) && si.si_code != SI_KERNEL) kill(worker, sig);
      continue;
    }
    pid_t pid;
    int st, done = 0;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
      if (pid == worker) { wstatus = st; done = 1; }
    if (done) break;
  }
  if (status_out) report(wstatus);
  else kill_everything();
  end_like(wstatus);
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

/* Every inherited fd but stdio and `keep` becomes close-on-exec: the
 * worker's exec drops them, so the command's tree gets only what the runner
 * meant it to have (the launcher's own processes never exec). */
static void cloexec_all_but(int *keep, int nkeep) {
  for (int i = 0; i < nkeep; i++) /* sort, for the ranges between them */
    for (int j = i + 1; j < nkeep; j++)
      if (keep[j] < keep[i]) { int t = keep[i]; keep[i] = keep[j]; keep[j] = t; }
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
  unsigned from = 3;
  int ok = 1;
  for (int i = 0; i <= nkeep && ok; i++) {
    unsigned to = i < nkeep ? (unsigned)keep[i] : ~0U;
    if (i < nkeep && keep[i] < 3) continue;
    if (to > from && syscall(SYS_close_range, from, to - 1, CLOSE_RANGE_CLOEXEC) < 0) ok = 0;
    if (i < nkeep) from = to + 1;
  }
  if (ok) return;
  DIR *d = opendir("/proc/self/fd"); /* before Linux 5.11 */
  struct dirent *e;
  while (d && (e = readdir(d))) {
    int fd = atoi(e->d_name), kept = fd < 3 || fd == dirfd(d);
    for (int i = 0; i < nkeep; i++) kept |= keep[i] == fd;
    if (!kept) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (d) closedir(d);
}

static void usage(void) {
  fputs("usage: ns-isolated-launcher [--parent-pid PID] [--cgroup-procs FILE]... [--userns]\n"
        "         [--no-net] [--cgroupns] [--no-clone3] [--reuse] [--no-namespaces] [--keep-fd N]...\n"
        "         [--status-fd N | --status-file FILE] -- CMD [ARGS...]\n"
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
  int keep[MAX_KEEP_FDS + 1], nkeep = 0;
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
    else if (!strcmp(a, "--no-namespaces")) no_namespaces = 1;
    else if (!strcmp(a, "--keep-fd") && i + 1 < argc && nkeep < MAX_KEEP_FDS) keep[nkeep++] = atoi(argv[++i]);
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
  const char *channel = getenv("NODE_CHANNEL_FD"); /* a Node runner's IPC channel to its worker */
  if (channel && *channel) keep[nkeep++] = atoi(channel);
  cloexec_all_but(keep, nkeep);

  /* 1. Die with the runner, even when it is SIGKILLed. The parent may have
   *    died before the prctl: then we were reparented, so re-check. Without
   *    namespaces the kernel would not take the tree along: SIGPWR, caught
   *    (blocked here, waited for by run_subreaper), kills it first. */
  sigset_t waited;
  sigemptyset(&waited);
  int relay[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t s = 0; s < sizeof relay / sizeof relay[0]; s++) sigaddset(&waited, relay[s]);
  if (no_namespaces) {
    sigaddset(&waited, SIGPWR);
    sigprocmask(SIG_BLOCK, &waited, NULL);
  }
  if (prctl(PR_SET_PDEATHSIG, no_namespaces ? SIGPWR : SIGKILL, 0, 0, 0) < 0) fail("prctl", errno, NULL);
  if (parent_pid && getppid() != parent_pid) _exit(EXIT_LAUNCHER);
  if (no_namespaces) no_clone3 = 1; /* we join ourselves: there is no init to clone into the cgroup */

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

  if (no_namespaces) run_subreaper(cmd, &waited);

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
    end_like(wstatus);
  }
}
