#!/usr/bin/env bash
# Build the avatar demo (web/, Next.js static export) into web/out, which the gateway serves at /avatar_demo.
# Idempotent: `npm ci` only when node_modules is missing or older than package-lock.json; `next build` only when
# a source file is newer than web/out (or FORCE=1). Needs Node >= 20.9 and npm; nothing is fetched at run time.
#   scripts/build_web.sh           build if needed
#   FORCE=1 scripts/build_web.sh   rebuild
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WEB="$ROOT/web"
OUT="$WEB/out"
STAMP="$OUT/.build-stamp"
export NEXT_TELEMETRY_DISABLED=1

say() { printf '\033[1m[build_web]\033[0m %s\n' "$*" >&2; }

command -v node >/dev/null || { say "node is not installed (Node >= 20.9 needed)"; exit 1; }
command -v npm >/dev/null || { say "npm is not installed"; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { say "Node $(node --version) is too old (>= 20.9 needed)"; exit 1; }

cd "$WEB"

# 1. dependencies: npm ci when node_modules is absent or older than the lockfile
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi

# 2. the export: skip when web/out is newer than every source
sources=(app components lib public package.json package-lock.json next.config.ts postcss.config.mjs tsconfig.json)
if [ "${FORCE:-0}" != "1" ] && [ -f "$STAMP" ] && [ -f "$OUT/index.html" ]; then
  newer=$(find "${sources[@]}" -newer "$STAMP" -print -quit 2>/dev/null || true)
  if [ -z "$newer" ]; then
    say "web/out is up to date (FORCE=1 to rebuild)"
    exit 0
  fi
  say "rebuilding: $newer changed"
fi

say "building the static export (next build)"
rm -rf "$OUT"
npx --no-install next build
[ -f "$OUT/index.html" ] || { say "next build did not write $OUT/index.html"; exit 1; }
touch "$STAMP"
say "built $OUT ($(du -sh "$OUT" | cut -f1)); the gateway serves it at /avatar_demo/"
