#!/usr/bin/env bash
# docker-check.sh: build the Dockerfile's image on a Debian 12 machine that
# cannot reach a container registry, and run the CPU build in it. As root.
# Idempotent: what is already there (packages, a running daemon, stand-in
# base images) is reused; the image itself is rebuilt each time (layer cache).
#
#   scripts/docker-check.sh            build gridgpu:check and run the checks
#
# What it does:
#  1. installs Debian's docker.io and debootstrap if missing, and starts
#     dockerd if no daemon answers (log: $WORK/dockerd.log);
#  2. makes stand-ins for the base images named in the Dockerfile's FROM
#     lines, with those exact tags: a minimal Debian 12 rootfs (debootstrap)
#     for each, and for golang:* the same plus the host's Go toolchain
#     (`go env GOROOT`, copied to /usr/local/go) and gcc, g++, libc6-dev,
#     make, pkg-config, git, ca-certificates, with the golang image's ENV
#     (PATH, GOPATH, GOTOOLCHAIN=local). A tag that already exists and is not
#     a stand-in (a real image) is used as it is;
#  3. builds the image with --build-arg VERSION=$(git describe ...). The
#     build's own steps need the network: apt (scripts/setup-cuda.sh fetches
#     Debian's CUDA packages from the Debian mirror) and `go mod download`.
#     The Go modules come from the host's module cache, served over HTTP on
#     127.0.0.1 and passed as --build-arg GOPROXY; the build runs with
#     --network host so that it can reach that server and the mirror;
#  4. runs the image: `version` (must report the VERSION given and pick the
#     CPU build: the stand-ins have no libcuda.so.1), `--help`, a 20-step CPU
#     training run, GRIDGPU_BUILD=cuda (must fail for want of libcuda.so.1,
#     which shows that the CUDA build is there and needs only the driver),
#     ldd of both builds, and the newest glibc symbol version the CUDA build
#     needs against the real runtime base's glibc (Ubuntu 22.04: 2.35).
#
# What it proves: the Dockerfile's steps build, the CUDA and CPU builds end
# up in the image with the entry point choosing between them, and the CPU
# build runs there. What it does not prove: a GPU run (that needs the NVIDIA
# container toolkit and a GPU), or anything about the real base images'
# contents (cuBLAS in nvidia/cuda's runtime image, the real golang image's
# packages): the stand-ins are Debian 12 rootfs, not those images.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${DOCKER_CHECK_DIR:-/var/tmp/gridgpu-docker-check}
IMAGE=${IMAGE:-gridgpu:check}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# Debian's client, which matches Debian's daemon.
DOCKER=/usr/bin/docker
STANDIN_LABEL=gridgpu.standin
# The newest glibc the runtime base has (nvidia/cuda:*-ubuntu22.04: 2.35).
RUNTIME_GLIBC=${RUNTIME_GLIBC:-2.35}

log() { echo "docker-check: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s; }
T0=$(now)
declare -A took

[[ $(id -u) == 0 ]] || die "run as root (it installs packages, starts dockerd, runs debootstrap)"
mkdir -p "$WORK"

# --- 1. packages and daemon -------------------------------------------------
t=$(now)
missing=()
for p in docker.io debootstrap; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
	log "starting dockerd (log: $WORK/dockerd.log)"
	# A sandbox without iptables or overlayfs may need DOCKERD_FLAGS, e.g.
	# "--iptables=false --bridge=none --storage-driver=vfs".
	# shellcheck disable=SC2086
	nohup dockerd ${DOCKERD_FLAGS:-} >"$WORK/dockerd.log" 2>&1 &
	for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
	"$DOCKER" info >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log" >&2; die "dockerd did not start"; }
fi
log "daemon: $("$DOCKER" version --format '{{.Server.Version}}'), storage $("$DOCKER" info --format '{{.Driver}}')"
took[setup]=$(($(now) - t))

# --- 2. stand-in base images ------------------------------------------------
t=$(now)
# The minimal rootfs, laid out like the debian:bookworm image: deb822
# sources in /etc/apt/sources.list.d/debian.sources (scripts/setup-cuda.sh
# derives its contrib/non-free sources from that file), empty apt lists.
base=$WORK/rootfs-base
if [[ ! -f $base/.done ]]; then
	rm -rf "$base"
	log "debootstrap $SUITE from $MIRROR (about a minute)"
	nice -n 10 debootstrap --variant=minbase "$SUITE" "$base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
		{ tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
	rm -f "$base/etc/apt/sources.list"
	cat >"$base/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	rm -rf "$base"/var/lib/apt/lists/* "$base"/var/cache/apt/archives/*.deb
	: >"$base/etc/resolv.conf"
	# The stamp: the stand-in images carry it as a label.
	echo "debootstrap-$SUITE-$(date -u +%Y%m%dT%H%M%SZ)" >"$base/.done"
fi

# The golang stand-in: the rootfs plus the packages the golang image has for
# cgo and modules, and the host's Go at /usr/local/go.
gobase=$WORK/rootfs-golang
goroot=$(go env GOROOT 2>/dev/null || true)
[[ -n $goroot && -x $goroot/bin/go ]] || die "no Go toolchain on this machine (go env GOROOT)"
gover=$("$goroot/bin/go" env GOVERSION)
gostamp="$(cat "$base/.done")-$gover"
if [[ ! -f $gobase/.done || $(cat "$gobase/.done") != "$gostamp" ]]; then
	rm -rf "$gobase"
	cp -a "$base" "$gobase"
	rm -f "$gobase/.done"
	log "installing gcc, libc6-dev, git ... into the golang stand-in"
	mount -t proc proc "$gobase/proc"
	trap 'umount "$gobase/proc" 2>/dev/null || true' EXIT
	cp /etc/resolv.conf "$gobase/etc/resolv.conf"
	nice -n 10 chroot "$gobase" sh -c 'export DEBIAN_FRONTEND=noninteractive &&
		apt-get update -qq &&
		apt-get install -y -qq --no-install-recommends ca-certificates gcc g++ libc6-dev make pkg-config git >/dev/null &&
		apt-get clean && rm -rf /var/lib/apt/lists/*' >"$WORK/golang-standin.log" 2>&1 ||
		{ tail -20 "$WORK/golang-standin.log" >&2; die "installing packages into the golang stand-in failed"; }
	umount "$gobase/proc"
	trap - EXIT
	: >"$gobase/etc/resolv.conf"
	mkdir -p "$gobase/usr/local" "$gobase/go/bin" "$gobase/go/src"
	cp -a "$goroot" "$gobase/usr/local/go"
	echo "$gostamp" >"$gobase/.done"
fi

# standin TAG ROOTFS [--change ...]: docker import ROOTFS as TAG unless TAG
# is already there.
standin() {
	local tag=$1 root=$2
	shift 2
	if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
		local label stamp
		label=$("$DOCKER" image inspect --format "{{index .Config.Labels \"$STANDIN_LABEL\"}}" "$tag")
		stamp=$(cat "$root/.done")
		if [[ -z $label ]]; then
			log "$tag: a real image is here; using it"
			return
		fi
		[[ $label == "$stamp" ]] && { log "$tag: stand-in already imported"; return; }
	fi
	log "$tag: importing the stand-in from $root"
	tar --numeric-owner --exclude=./.done -C "$root" -c . |
		"$DOCKER" import --change "LABEL $STANDIN_LABEL=$(cat "$root/.done")" "$@" - "$tag" >/dev/null
}

mapfile -t bases < <(awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; break } }' Dockerfile | sort -u)
stages=$(awk 'toupper($1) == "FROM" && toupper($(NF-1)) == "AS" { print $NF }' Dockerfile)
for b in "${bases[@]}"; do
	grep -qxF "$b" <<<"$stages" && continue
	case $b in
	golang:*)
		standin "$b" "$gobase" \
			--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' \
			--change "ENV GOLANG_VERSION=${gover#go}" --change 'WORKDIR /go' --change 'CMD ["bash"]'
		;;
	*)
		standin "$b" "$base" \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]'
		;;
	esac
done
took[standins]=$(($(now) - t))

# --- 3. the build -----------------------------------------------------------
t=$(now)
# The module cache in the proxy layout (cache/download), served read-only.
go mod download
modcache=$(go env GOMODCACHE)/cache/download
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$modcache" "$port" >"$WORK/goproxy.log" 2>&1 &
proxy_pid=$!
trap 'kill "$proxy_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break; sleep 0.1; done

version=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
log "docker build -t $IMAGE (VERSION=$version; log: $WORK/build.log)"
if ! DOCKER_BUILDKIT=1 nice -n 10 "$DOCKER" build --progress=plain --network host \
	--build-arg VERSION="$version" --build-arg GOPROXY="http://127.0.0.1:$port" \
	-t "$IMAGE" . >"$WORK/build.log" 2>&1; then
	tail -40 "$WORK/build.log" >&2
	die "docker build failed"
fi
kill "$proxy_pid" 2>/dev/null || true
trap - EXIT
took[build]=$(($(now) - t))

# --- 4. the image -----------------------------------------------------------
t=$(now)
fail=0
bad() { log "FAIL: $*"; fail=1; }
run() { "$DOCKER" run --rm "$@"; }

out=$(run "$IMAGE" version 2>&1) || bad "version exited $?"
echo "$out" | sed 's/^/  | /'
vline=$(head -1 <<<"$out")
[[ $vline == "gridgpu $version" ]] || bad "version says '$vline', want 'gridgpu $version'"
grep -q '^devices: cpu$' <<<"$out" || bad "the entry point did not pick the CPU build on a host without libcuda.so.1"

run "$IMAGE" --help >"$WORK/help.txt" 2>&1 || bad "--help exited $?"
grep -q 'train' "$WORK/help.txt" || bad "--help does not list train"
run "$IMAGE" >/dev/null 2>&1 || bad "the image's default command (--help) failed"

log "train --preset smoke --steps 20 (log: $WORK/smoke.log)"
if ! nice -n 10 "$DOCKER" run --rm "$IMAGE" train --preset smoke --steps 20 --out /tmp/r >"$WORK/smoke.log" 2>&1; then
	tail -5 "$WORK/smoke.log" >&2
	bad "the smoke run failed"
fi
smoke_last=$(tr '\r' '\n' <"$WORK/smoke.log" | grep -v '^[[:space:]]*$' | tail -1)

out=$(run -e GRIDGPU_BUILD=cuda "$IMAGE" version 2>&1) && bad "GRIDGPU_BUILD=cuda started without a driver"
grep -q 'libcuda\.so\.1' <<<"$out" || bad "GRIDGPU_BUILD=cuda: '$out' does not name libcuda.so.1"
out=$(run -e GRIDGPU_BUILD=gpu "$IMAGE" version 2>&1) && bad "GRIDGPU_BUILD=gpu accepted"
grep -q 'must be cpu or cuda' <<<"$out" || bad "GRIDGPU_BUILD=gpu: '$out'"

ldd_cuda=$(run --entrypoint ldd "$IMAGE" /usr/local/lib/gridgpu/gridgpu-cuda 2>&1 || true)
ldd_cpu=$(run --entrypoint ldd "$IMAGE" /usr/local/lib/gridgpu/gridgpu-cpu 2>&1 || true)
extra=$(grep -vE 'linux-vdso|libcuda\.so\.1|libc\.so\.6|ld-linux-x86-64|libm\.so\.6|libpthread|libdl|libresolv' <<<"$ldd_cuda" || true)
[[ -z $extra ]] || bad "the CUDA build needs more than libc and libcuda.so.1: $extra"
grep -q 'not a dynamic executable' <<<"$ldd_cpu" || bad "the CPU build is not static: $ldd_cpu"

tmpc=$("$DOCKER" create "$IMAGE")
"$DOCKER" cp "$tmpc:/usr/local/lib/gridgpu/gridgpu-cuda" "$WORK/gridgpu-cuda" >/dev/null
"$DOCKER" rm "$tmpc" >/dev/null
glibc=$(grep -ao 'GLIBC_2\.[0-9][0-9.]*' "$WORK/gridgpu-cuda" | sort -uV | tail -1)
if [[ $(printf '%s\n%s\n' "${glibc#GLIBC_}" "$RUNTIME_GLIBC" | sort -V | tail -1) != "$RUNTIME_GLIBC" ]]; then
	bad "the CUDA build needs $glibc, newer than the runtime base's glibc $RUNTIME_GLIBC"
fi
took[run]=$(($(now) - t))

size=$("$DOCKER" image inspect --format '{{.Size}}' "$IMAGE")
echo
echo "docker-check summary"
kinds=()
for b in "${bases[@]}"; do
	grep -qxF "$b" <<<"$stages" && continue
	if [[ -n $("$DOCKER" image inspect --format "{{index .Config.Labels \"$STANDIN_LABEL\"}}" "$b") ]]; then
		kinds+=("$b (stand-in)")
	else
		kinds+=("$b (real)")
	fi
done
echo "  bases:      $(printf '%s, ' "${kinds[@]}" | sed 's/, $//')"
echo "  image:      $IMAGE, $((size / 1000000)) MB"
echo "  times:      setup ${took[setup]}s, stand-ins ${took[standins]}s, build ${took[build]}s, runs ${took[run]}s, total $(($(now) - T0))s"
echo "  version:    $vline"
echo "  smoke run:  $smoke_last"
echo "  cuda build: needs $(grep -oE '^\s*\S+\.so\.[0-9]+' <<<"$ldd_cuda" | tr -d '\t ' | tr '\n' ' ')(newest symbol $glibc; runtime base has $RUNTIME_GLIBC)"
if [[ $fail != 0 ]]; then
	echo "  result:     FAILED (see above)"
	exit 1
fi
echo "  result:     ok: the Dockerfile's steps build; the image holds both builds, its entry point"
echo "              picks the CPU build without a driver, and the CPU build runs (version, --help,"
echo "              a 20-step training run). Not shown: a GPU run, the real base images' contents."
