#!/usr/bin/env bash
# scripts/test.sh — the one command that installs what phikit's checks need and runs them all.
#
#   bash scripts/test.sh                         # everything: OS packages, tools, vuln DB, checks, tests
#   PHIKIT_SKIP_INSTALL=1 bash scripts/test.sh   # skip the install steps (1-3) for quick local runs
#
# Steps:
#   1. OS packages (Debian): redis-server, postgresql (and a C compiler for -race) when missing.
#   2. Pinned Go tools into $PHIKIT_CACHE/bin (default ~/.cache/phikit/bin), each built once per version;
#      also ORY Hydra (for the OAuth2 integration tests) from the separate tools/hydra module.
#   3. Offline Go vulnerability DB built from a pinned golang.org/x/vulndb into $PHIKIT_CACHE/vulndb.
#   4. gofmt, go vet, staticcheck, go test -race (PHIKIT_INTEGRATION=1), the clinic example's demo,
#      govulncheck (on a patched toolchain, offline DB), gosec.
#   5. go vet and the tests (not the benchmarks) of the separate bench/ module, when it exists.
#
# Nothing here starts redis or postgres: the Go tests start their own throwaway servers.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---- pins -------------------------------------------------------------------------------------
STATICCHECK_VERSION=v0.8.2
GOVULNCHECK_VERSION=v1.9.0
GOSEC_VERSION=v2.30.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018 # golang.org/x/vulndb: both the indexdb tool and the OSV data
# go1.26.8's own standard library has known vulnerabilities in that DB; govulncheck judges the tree
# on a patched toolchain, which the go command fetches from the module proxy (~3 s, cached after).
VULNCHECK_TOOLCHAIN=${PHIKIT_VULNCHECK_TOOLCHAIN:-go1.26.10}
GOSEC_TIMEOUT=600 # seconds
# ORY Hydra's version is pinned in tools/hydra/go.mod (a separate module, with the pop replace it needs).

# ---- environment ------------------------------------------------------------------------------
CACHE=${PHIKIT_CACHE:-${HOME:-/root}/.cache/phikit}
mkdir -p "$CACHE/bin"
CACHE=$(cd "$CACHE" && pwd) # absolute: it goes into a file:// URL
TOOLS=$CACHE/bin
VULNDB=$CACHE/vulndb

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  PATH=/usr/local/go/bin:$PATH
fi
export PATH="$TOOLS:$PATH"
export PHIKIT_INTEGRATION=1 # integration tests run; the servers they need must exist

# ---- step banners and timing ------------------------------------------------------------------
now_ms() { echo $(($(date +%s%N) / 1000000)); }
fmt_ms() { printf '%d.%ds' $(($1 / 1000)) $((($1 % 1000) / 100)); }
SCRIPT_START=$(now_ms)
STEP=""
STEP_START=0
STEP_TIMES=()
end_step() {
  if [ -n "$STEP" ]; then
    local took=$(($(now_ms) - STEP_START))
    printf -- '--- %s: ok (%s)\n' "$STEP" "$(fmt_ms "$took")"
    STEP_TIMES+=("$STEP $(fmt_ms "$took")")
    STEP=""
  fi
}
step() {
  end_step
  STEP=$1
  STEP_START=$(now_ms)
  printf '\n==> %s\n' "$STEP"
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '\n==> FAILED: %s (exit %d) after %s in total\n' "${STEP:-setup}" "$rc" \
      "$(fmt_ms $(($(now_ms) - SCRIPT_START)))" >&2
  fi
}
trap on_exit EXIT

SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
fi

# ---- 1-3: installs ----------------------------------------------------------------------------
have_initdb() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

install_os_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  have_initdb || missing+=(postgresql)
  # go test -race needs cgo, so a C compiler and libc headers.
  if ! command -v gcc >/dev/null 2>&1 && ! command -v cc >/dev/null 2>&1; then
    missing+=(gcc libc6-dev)
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    echo "    redis-server, postgresql and a C compiler are present"
    return
  fi
  echo "    missing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
    echo "error: not root and no sudo: install these packages by hand: ${missing[*]}" >&2
    return 1
  fi
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends redis-server postgresql "${missing[@]}"
}

# install_tool NAME PACKAGE VERSION — go install into $TOOLS unless the stamp for this version
# (which records the Go version that built it) is already there.
install_tool() {
  local name=$1 pkg=$2 version=$3
  local stamp="$TOOLS/.$name@$version"
  local gover
  gover=$(go env GOVERSION)
  if [ -x "$TOOLS/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$gover" ]; then
    echo "    $name@$version: cached"
    return
  fi
  echo "    $name@$version: installing $pkg"
  local t0
  t0=$(now_ms)
  rm -f "$TOOLS/.$name@"*
  GOBIN="$TOOLS" GOFLAGS=-buildvcs=false GOWORK=off go install "$pkg@$version"
  echo "$gover" >"$stamp"
  echo "    $name@$version: built in $(fmt_ms $(($(now_ms) - t0)))"
}

# build_hydra — build ORY Hydra from the tools/hydra module into $TOOLS/hydra (with SQLite, so
# DSN=memory works; that needs cgo), unless the stamp for this version, which records the Go version
# and a hash of tools/hydra/go.mod and go.sum, is already there. A cold build takes 1-2 min on 2 cores
# (~70 s compiling, ~30 s downloading 200+ modules); a rebuild with a warm Go build cache ~7 s.
build_hydra() {
  local version gover sum stamp
  version=$(cd tools/hydra && GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' github.com/ory/hydra/v2)
  gover=$(go env GOVERSION)
  sum=$(cat tools/hydra/go.mod tools/hydra/go.sum | sha256sum | cut -c1-16)
  stamp="$TOOLS/.hydra@$version"
  if [ -x "$TOOLS/hydra" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$gover $sum" ]; then
    echo "    hydra@$version: cached"
    return
  fi
  echo "    hydra@$version: building github.com/ory/hydra/v2 from tools/hydra"
  local t0
  t0=$(now_ms)
  rm -f "$TOOLS/.hydra@"*
  (cd tools/hydra && CGO_ENABLED=1 GOFLAGS="-buildvcs=false -mod=readonly" GOWORK=off \
    go build -tags sqlite,sqlite_omit_load_extension \
      -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
      -o "$TOOLS/hydra.tmp.$$" github.com/ory/hydra/v2)
  mv -f "$TOOLS/hydra.tmp.$$" "$TOOLS/hydra"
  echo "$gover $sum" >"$stamp"
  echo "    hydra@$version: built in $(fmt_ms $(($(now_ms) - t0)))"
}

build_vulndb() {
  local stamp="$CACHE/.vulndb@$VULNDB_VERSION"
  if [ -f "$stamp" ] && [ -f "$VULNDB/index/db.json" ]; then
    echo "    vulndb@$VULNDB_VERSION: cached in $VULNDB"
    return
  fi
  rm -f "$CACHE/.vulndb@"*
  local json dir
  # Outside any module, so nothing in the work tree is touched.
  json=$(cd / && GOFLAGS= GOWORK=off go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION")
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)
  if [ -z "$dir" ] || [ ! -d "$dir/data/osv" ]; then
    echo "error: go mod download gave no usable Dir for golang.org/x/vulndb@$VULNDB_VERSION:" >&2
    printf '%s\n' "$json" >&2
    return 1
  fi
  local tmp="$VULNDB.tmp.$$"
  rm -rf "$tmp"
  indexdb -vulns "$dir/data/osv" -out "$tmp"
  rm -rf "$VULNDB"
  mv "$tmp" "$VULNDB"
  echo "$dir" >"$stamp"
  echo "    vulndb@$VULNDB_VERSION: $(find "$VULNDB/ID" -name '*.json' | wc -l) entries in $VULNDB"
}

if [ "${PHIKIT_SKIP_INSTALL:-}" = 1 ]; then
  echo "==> PHIKIT_SKIP_INSTALL=1: skipping OS packages, tools and the vulnerability DB"
else
  step "install OS packages (redis-server, postgresql)"
  install_os_packages

  step "install Go tools into $TOOLS"
  install_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
  install_tool govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION"
  install_tool indexdb golang.org/x/vulndb/cmd/indexdb "$VULNDB_VERSION"
  install_tool gosec github.com/securego/gosec/v2/cmd/gosec "$GOSEC_VERSION"

  step "build ORY Hydra into $TOOLS (tools/hydra module)"
  build_hydra

  step "build offline vulnerability DB"
  build_vulndb
fi

for tool in staticcheck govulncheck gosec hydra; do
  if [ ! -x "$TOOLS/$tool" ]; then
    echo "error: $TOOLS/$tool is missing: run without PHIKIT_SKIP_INSTALL=1 once" >&2
    exit 1
  fi
done
if [ ! -f "$VULNDB/index/db.json" ]; then
  echo "error: no vulnerability DB in $VULNDB: run without PHIKIT_SKIP_INSTALL=1 once" >&2
  exit 1
fi

# ---- 4: checks and tests ----------------------------------------------------------------------
step "gofmt -l ."
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "these files are not gofmt-formatted (fix with: gofmt -w FILE):" >&2
  printf '    %s\n' $unformatted >&2
  exit 1
fi

step "go vet ./..."
go vet ./...

step "staticcheck ./... ($STATICCHECK_VERSION)"
staticcheck ./...

step "go test -race -count=1 ./... (PHIKIT_INTEGRATION=1)"
# -v so that skipped tests can be listed: `go test` alone reports a package with skipped tests
# as ok. On a failure the log is printed less its RUN and PASS lines.
test_log=$(mktemp)
if ! go test -race -count=1 -v ./... >"$test_log" 2>&1; then
  grep -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT|NAME)|--- PASS:)' "$test_log" >&2 || true
  rm -f "$test_log"
  exit 1
fi
grep -E '^(ok|FAIL)[[:space:]]' "$test_log" || true
# Each package's output ends with its ok line, so the SKIP lines before it are its own.
skipped=$(awk '/^[[:space:]]*--- SKIP: / { sub(/^[[:space:]]*--- SKIP: /, ""); s[n++] = $0; next }
  /^ok[[:space:]]/ { for (i = 0; i < n; i++) print "    " $2 ": " s[i]; n = 0 }' "$test_log")
if [ -n "$skipped" ]; then
  printf 'skipped tests (go test -v ./PKG -run NAME shows why):\n%s\n' "$skipped"
else
  echo "no test was skipped"
fi
rm -f "$test_log"

step "go run ./examples/clinic -demo"
# timeout signals the whole process group, so the example binary under go run stops too.
timeout --kill-after=30 600 go run ./examples/clinic -demo

step "govulncheck ./... ($GOVULNCHECK_VERSION on $VULNCHECK_TOOLCHAIN, offline DB $VULNDB_VERSION)"
GOTOOLCHAIN=$VULNCHECK_TOOLCHAIN go version
GOTOOLCHAIN=$VULNCHECK_TOOLCHAIN govulncheck -db "file://$VULNDB" ./...

step "gosec ./... ($GOSEC_VERSION)"
gosec_color=false
[ -t 1 ] && gosec_color=true # no escape codes in CI logs
# gosec skips _test.go files by default; any finding fails the step (fix it or justify a #nosec).
timeout --kill-after=30 "$GOSEC_TIMEOUT" gosec -quiet -color="$gosec_color" ./...

# ---- 5: the separate bench module, if there is one ---------------------------------------------
if [ -f bench/go.mod ]; then
  step "go vet and go test ./... in bench/ (peer comparison; benchmarks not run)"
  # -mod=mod: bench/ replaces phikit with ../, so a new phikit dependency changes its
  # go.sum; the peer comparison is not shipped, so CI lets the go command update it.
  (cd bench && go vet -mod=mod ./... && go test -mod=mod -race -count=1 ./...)
fi

end_step
echo
echo "==> step times:"
printf '    %s\n' "${STEP_TIMES[@]}"
echo "==> phikit: all checks passed in $(fmt_ms $(($(now_ms) - SCRIPT_START))) (gofmt, vet, staticcheck, go test -race, clinic demo, govulncheck, gosec)"
