#!/usr/bin/env bash
# bench-emulated.sh: resnet-edge, onnxruntime and LiteRT side by side on an emulated ARM core, as one command.
#
#   bash scripts/bench-emulated.sh --cpu cortex-a72|cortex-a76 --model M.onnx|resnet18|resnet50|mobilenetv2
#        [--runs N] [--extra K] [--threads "2 4"] [--runtimes "resnet-edge onnxruntime litert"] [--json FILE]
#        [--resnet-edge BIN] [--no-cache-model]
#   bash scripts/bench-emulated.sh --check        # CI-sized: narrow 64x64 ResNet under cortex-a72, ours vs onnxruntime
#
# For one QDQ model and one input, each runtime runs N and N+K inferences (default 1 and 2) under the dynamic
# qemu-aarch64 (Debian's qemu-user: the static one has no plugins) with -cpu CPU and the plugin
# cross-toolchains/qemu-plugins/benchprof.c; the difference of the two runs, divided by K, is one inference with
# start-up and model loading excluded. Reported per inference: executed instructions; modelled cycles (every hot
# translation block's llvm-mca throughput for the CPU times its execution count, the rest at 1 instruction/cycle),
# with and without the data-cache model's miss penalties; the share of the top kernels (blocks mapped to symbols
# through the guest's file mappings and the files' ELF symbol tables); and at 2 and 4 threads the modelled critical
# path (sum over the runtime's synchronised steps of the busiest thread). See cross-toolchains/README.md
# ("bench-emulated.sh") for the method, the assumptions and the caveats. The Python part is bench/bench_emulated.py.
#
# The runtimes: our aarch64 build (cross-compiled with cross-toolchains/xswift for aarch64-sid unless --resnet-edge
# BIN is given; run with -L on the sid sysroot); onnxruntime 1.32.0 and ai-edge-litert 2.3.0 from their PyPI
# manylinux aarch64 wheels in an arm64 Debian bookworm python3.11 (its .debs unpacked with dpkg-deb -x, wheels
# unzipped onto PYTHONPATH), started in a private mount namespace with an ARM /proc/cpuinfo bind-mounted (onnxruntime's
# cpuinfo crashes under qemu 7.2 on the host's); LiteRT on the same network converted on the host by
# bench/onnx_to_tflite.py (tensorflow-cpu's converter). OPENBLAS_NUM_THREADS=1 everywhere.
#
# Cache (idempotent; BENCH_CACHE, default /var/cache/resnet-edge-bench): the arm64 Python root with the wheels,
# the host venvs (onnx/onnxruntime; tensorflow-cpu), the bench models and inputs, converted TFLite models, built
# plugins, llvm-mca results per block. qemu-plugin.h comes from the cache of scripts/kernel-peak-aarch64.sh
# (/var/cache/resnet-edge-kpeak). Root (apt-get, unshare, mount).
set -euo pipefail
start_s=$(date +%s)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
CACHE=${BENCH_CACHE:-/var/cache/resnet-edge-bench}
KP_CACHE=${KP_CACHE:-/var/cache/resnet-edge-kpeak}
XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
MIRROR=${BENCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
LLVM=${BENCH_LLVM_VERSION:-19}
log() { printf '[bench-emulated] %s\n' "$*" >&2; }
die() { printf '[bench-emulated] error: %s\n' "$*" >&2; exit 1; }

cpu= model= runs=1 extra=1 threads="2 4" runtimes="resnet-edge onnxruntime litert" json= bin= check=0 cache_model=1
while [ $# -gt 0 ]; do
  case $1 in
    --cpu) cpu=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --extra) extra=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runtimes) runtimes=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --resnet-edge) bin=$2; shift 2 ;;
    --no-cache-model) cache_model=0; shift ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [ $check = 1 ]; then
  cpu=${cpu:-cortex-a72}; model=${model:-resnet-narrow64}; threads=${threads_check:-""}
  runtimes="resnet-edge onnxruntime"; cache_model=0
fi
[ -n "$cpu" ] && [ -n "$model" ] || die "--cpu and --model are required (or --check)"
case $cpu in
  cortex-a72|cortex-a76) ;;
  haswell) die "--cpu haswell (x86-64 without VNNI under qemu-x86_64) is not implemented yet: the plugin and the cycle model handle x86, the x86 runtimes' setup does not" ;;
  *) die "--cpu: cortex-a72 or cortex-a76" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, unshare -m, mount --bind)"
mkdir -p "$CACHE"/{stamps,logs,plugins,models,tflite,mca,runs}

# ---- host tools ----
need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v "llvm-mca-$LLVM" >/dev/null || need+=("llvm-$LLVM")
command -v gcc >/dev/null || need+=(gcc)
command -v nm >/dev/null || need+=(binutils)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >"$CACHE/logs/apt.log" 2>&1 || {
    apt-get update -q >>"$CACHE/logs/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >>"$CACHE/logs/apt.log" 2>&1 \
      || { tail "$CACHE/logs/apt.log" >&2; die "apt-get install failed"; }
  }
fi
qemu=$(command -v qemu-aarch64)
"$qemu" -h 2>&1 | grep -q -- '-plugin' || die "$qemu has no -plugin (need Debian's dynamic qemu-user)"

# ---- qemu-plugin.h (same source and cache as scripts/kernel-peak-aarch64.sh) and the plugin ----
qemu_src_version=$(dpkg-query -W -f='${source:Version}' qemu-user)
hdr_dir="$KP_CACHE/qemu-$qemu_src_version"
if [ ! -s "$hdr_dir/qemu-plugin.h" ]; then
  log "fetching qemu $qemu_src_version source (for qemu-plugin.h)"
  . /etc/os-release
  apt_dir="$KP_CACHE/apt"
  rm -rf "$apt_dir" && mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/src"
  m=${MIRROR%/debian}
  printf 'deb-src %s/debian %s main\ndeb-src %s/debian %s-updates main\ndeb-src %s/debian-security %s-security main\n' \
    "$m" "$VERSION_CODENAME" "$m" "$VERSION_CODENAME" "$m" "$VERSION_CODENAME" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$apt_dir/lists"
            -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root" -o "Acquire::Check-Valid-Until=false")
  apt-get "${apt_opts[@]}" update -qq >"$apt_dir/update.log" 2>&1 || die "apt-get update (deb-src) failed"
  (cd "$apt_dir/src" && apt-get "${apt_opts[@]}" source --download-only "qemu=$qemu_src_version" >/dev/null 2>&1) \
    || die "apt-get source qemu=$qemu_src_version failed"
  orig=$(ls "$apt_dir"/src/qemu_*.orig.tar.* | head -1)
  member=$(tar -tf "$orig" | grep '/include/qemu/qemu-plugin.h$' | head -1)
  mkdir -p "$hdr_dir"
  tar -xOf "$orig" "$member" >"$hdr_dir/qemu-plugin.h.tmp" && mv "$hdr_dir/qemu-plugin.h.tmp" "$hdr_dir/qemu-plugin.h"
  rm -rf "$apt_dir"
fi
plugin_src="$root/cross-toolchains/qemu-plugins/benchprof.c"
plugin="$CACHE/plugins/libbenchprof-$(cat "$plugin_src" "$hdr_dir/qemu-plugin.h" | sha256sum | cut -c1-12).so"
if [ ! -s "$plugin" ]; then
  gcc -shared -fPIC -O2 -Wall -Wextra -I"$hdr_dir" "$plugin_src" -o "$plugin.tmp" -lpthread && mv "$plugin.tmp" "$plugin"
fi

# ---- host Python venvs: onnx/onnxruntime (models, inputs), tensorflow-cpu (TFLite conversion) ----
if [ ! -e "$CACHE/stamps/host-venv" ]; then
  log "host venv (onnx, onnxruntime, numpy, Pillow: Tests/Fixtures/requirements.txt)"
  rm -rf "$CACHE/host-venv"
  python3 -m venv "$CACHE/host-venv"
  "$CACHE/host-venv/bin/pip" install -q -r Tests/Fixtures/requirements.txt >"$CACHE/logs/host-venv.log" 2>&1 \
    || { tail "$CACHE/logs/host-venv.log" >&2; die "pip install (host venv) failed"; }
  touch "$CACHE/stamps/host-venv"
fi
if [[ " $runtimes " == *" litert "* ]] && [ ! -e "$CACHE/stamps/tf-venv" ]; then
  log "tensorflow venv (tensorflow-cpu 2.21.0, for the TFLite converter; about 1.6 GB)"
  rm -rf "$CACHE/tf-venv"
  python3 -m venv "$CACHE/tf-venv"
  "$CACHE/tf-venv/bin/pip" install -q tensorflow-cpu==2.21.0 onnx==1.23.2 pillow==13.0.0 >"$CACHE/logs/tf-venv.log" 2>&1 \
    || { tail "$CACHE/logs/tf-venv.log" >&2; die "pip install (tensorflow venv) failed"; }
  touch "$CACHE/stamps/tf-venv"
fi

# ---- the arm64 Python root (Debian bookworm .debs, dpkg-deb -x) with the peers' wheels ----
PY_ROOT="$CACHE/py-arm64"
if [[ " $runtimes " == *" onnxruntime "* || " $runtimes " == *" litert "* ]] && [ ! -e "$CACHE/stamps/py-arm64" ]; then
  log "arm64 python3.11 root and the onnxruntime / ai-edge-litert wheels"
  d="$CACHE/apt-bookworm-arm64"
  rm -rf "$d" "$CACHE/debs-arm64" "$PY_ROOT" "$CACHE/wheels-aarch64"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$CACHE/debs-arm64" "$CACHE/wheels-aarch64"
  : > "$d/status"
  echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main" > "$d/sources.list"
  O=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$d/lists"
     -o "Dir::Cache=$d/cache" -o "Dir::State::status=$d/status" -o APT::Architecture=arm64 -o APT::Architectures::=arm64
     -o Acquire::Check-Valid-Until=false -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Sandbox::User=root)
  apt-get "${O[@]}" update -qq >"$CACHE/logs/arm64-apt.log" 2>&1 || die "apt-get update (arm64 bookworm) failed"
  apt-cache "${O[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances python3.11 libstdc++6 libgomp1 | grep -v '^[ <]' | sort -u \
    | grep -v -E '^(perl.*|libperl.*|dpkg|install-info|tar|mailcap|mime-support)$' > "$CACHE/debs-arm64.list"
  (cd "$CACHE/debs-arm64" && xargs apt-get "${O[@]}" download -qq < "$CACHE/debs-arm64.list") >>"$CACHE/logs/arm64-apt.log" 2>&1 \
    || die "apt-get download (arm64) failed"
  mkdir -p "$PY_ROOT"
  for f in "$CACHE"/debs-arm64/*.deb; do dpkg-deb -x "$f" "$PY_ROOT"; done
  pip download -q --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 \
    --platform manylinux_2_17_aarch64 -d "$CACHE/wheels-aarch64" \
    onnxruntime==1.32.0 ai-edge-litert==2.3.0 numpy==2.4.6 >"$CACHE/logs/wheels.log" 2>&1 \
    || { tail "$CACHE/logs/wheels.log" >&2; die "pip download (aarch64 wheels) failed"; }
  mkdir -p "$PY_ROOT/opt/site-packages"
  for w in "$CACHE"/wheels-aarch64/*.whl; do python3 -m zipfile -e "$w" "$PY_ROOT/opt/site-packages"; done
  touch "$CACHE/stamps/py-arm64"
fi

# ---- our aarch64 build ----
XC_SYSROOT=$(ls -d "$XC_DIR"/sid-amd64/opt/xc-sdks/aarch64-sid.artifactbundle/aarch64-sid/sysroot 2>/dev/null || true)
if [[ " $runtimes " == *" resnet-edge "* ]]; then
  [ -n "$XC_SYSROOT" ] || die "no aarch64-sid sysroot in $XC_DIR (run cross-toolchains/setup-aarch64.sh)"
  if [ -z "$bin" ]; then
    bin="$root/.build-aarch64-bench/aarch64-unknown-linux-gnu/release/resnet-edge"
    if [ ! -x "$bin" ]; then
      [ -e "$XC_DIR/stamps/sdks" ] || die "the cross toolchain is not ready ($XC_DIR/stamps/sdks missing)"
      pgrep -f setup-aarch64 >/dev/null && die "setup-aarch64.sh is running: wait for it"
      log "cross-building resnet-edge for aarch64 (release, aarch64-sid, -j 1)"
      cross-toolchains/xswift build --swift-sdk aarch64-sid -c release --product resnet-edge \
        --scratch-path .build-aarch64-bench -j 1 >"$CACHE/logs/xbuild.log" 2>&1 \
        || { tail -20 "$CACHE/logs/xbuild.log" >&2; die "cross build failed"; }
    fi
  fi
  [ -x "$bin" ] || die "no resnet-edge binary at $bin"
fi

export BE_ROOT="$root" BE_CACHE="$CACHE" BE_QEMU="$qemu" BE_PLUGIN="$plugin" BE_PY_ROOT="$PY_ROOT" BE_SYSROOT="$XC_SYSROOT" \
       BE_BIN="$bin" BE_CPU="$cpu" BE_MODEL="$model" BE_RUNS="$runs" BE_EXTRA="$extra" BE_THREADS="$threads" \
       BE_RUNTIMES="$runtimes" BE_JSON="$json" BE_CHECK="$check" BE_CACHE_MODEL="$cache_model" BE_START="$start_s" \
       BE_MCA="llvm-mca-$LLVM" BE_MC="llvm-mc-$LLVM" BE_QEMU_VERSION="$qemu_src_version"
exec "$CACHE/host-venv/bin/python" "$root/bench/bench_emulated.py"
