#!/usr/bin/env bash
# kernel-peak-aarch64.sh: how close the aarch64 INT8 GEMM/IGEMM micro-kernels of Sources/CKernels come to the
# cores' peak, without a board. A benchmark, not part of the test command. Usage: bash scripts/kernel-peak-aarch64.sh
#
# 1. llvm-mca (Debian's llvm-$KP_LLVM_VERSION): each kernel's C file is compiled to assembly with Debian's clang
#    --target=aarch64-linux-gnu -O3, twice: as the package ships it (Package.swift gives CKernels only -O3: generic
#    armv8-a tuning, "shipped") and tuned with -mcpu=cortex-a72 / -mcpu=cortex-a76 ("tuned"). The innermost K loop is
#    cut out of the assembly (see "How the K loop is found" in the Python part) and given to llvm-mca -mcpu=... :
#    cycles per iteration, MACs per iteration (counted from the loop's SMULL/SMLAL/SDOT and checked against mr*nr*k-step),
#    MACs per cycle, % of the core's peak and what limits the loop. LLVM 19 schedules -mcpu=cortex-a72 AND
#    -mcpu=cortex-a76 with its Cortex-A57 model (the table names the model), so the A76 is also analysed with
#    -mcpu=neoverse-n1: the server core built on the A76 micro-architecture, which LLVM does model.
# 2. qemu: bench/kernel-driver/gemm_driver.c is linked statically with every CKernels source (shipped and tuned
#    builds) and run under the dynamic qemu-aarch64 (qemu-user, which supports -plugin) with -cpu cortex-a72 and
#    -cpu cortex-a76, for ResNet18 layers (conv2_x and conv4_x 3x3: as GEMM over im2col rows and as IGEMM over an
#    indirection buffer). cross-toolchains/qemu-plugins/symcount.c counts executed instructions per kernel symbol:
#    instructions per MAC, MACs per instruction, and the share of them that is the steady-state K loop. Every variant
#    must give the scalar reference's output bytes (a checksum, per case).
#
# Output: a plain-text table on stdout and out/kernel-peak-aarch64.json. Work files (assembly, the cut-out loops,
# llvm-mca reports, binaries) stay in .build-kernel-peak/. Needs root only to install what is missing (apt-get:
# clang-N llvm-N gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gcc python3; qemu's source package for
# qemu-plugin.h, cached in $KP_CACHE). Idempotent. Measured on the 2-core host: 13 s when installed and cached,
# 25 s with an empty .build-kernel-peak and header cache, plus about 15 s of apt-get (106 MB) on a fresh machine.
#
# Environment: KP_LLVM_VERSION (19), KP_OUT (out/kernel-peak-aarch64.json), KP_WORK (.build-kernel-peak),
# KP_CACHE (/var/cache/resnet-edge-kpeak), KP_DEBIAN_MIRROR (http://deb.debian.org), KP_JOBS (1: qemu runs at once).
set -euo pipefail
start_s=$(date +%s)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

llvm_version=${KP_LLVM_VERSION:-19}
out_json=${KP_OUT:-$root/out/kernel-peak-aarch64.json}
work=${KP_WORK:-$root/.build-kernel-peak}
cache=${KP_CACHE:-/var/cache/resnet-edge-kpeak}
mirror=${KP_DEBIAN_MIRROR:-http://deb.debian.org}
mkdir -p "$work" "$(dirname "$out_json")"

log() { printf '[kernel-peak] %s\n' "$*" >&2; }
die() { printf '[kernel-peak] error: %s\n' "$*" >&2; exit 1; }

# ---- 1. tools (Debian packages), installed only when missing ----
need=()
command -v "clang-$llvm_version" >/dev/null || need+=("clang-$llvm_version")
command -v "llvm-mca-$llvm_version" >/dev/null || need+=("llvm-$llvm_version")
command -v aarch64-linux-gnu-ld >/dev/null && [ -e /usr/lib/gcc-cross/aarch64-linux-gnu ] || need+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v gcc >/dev/null || need+=(gcc)
command -v xz >/dev/null || need+=(xz-utils)
[ -x /usr/bin/python3 ] || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}; run as root (apt-get install) or install them first"
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${need[@]}" >"$work/apt-install.log" 2>&1; then
    apt-get update >"$work/apt-update.log" 2>&1 || true
    apt-get install -y --no-install-recommends "${need[@]}" >"$work/apt-install.log" 2>&1 \
      || { tail -20 "$work/apt-install.log" >&2; die "apt-get install failed"; }
  fi
fi
# qemu-aarch64-static has no plugin support; the dynamic binary from qemu-user does.
qemu=$(command -v qemu-aarch64)
"$qemu" -h 2>&1 | grep -q -- '-plugin' || die "$qemu has no -plugin option (need Debian's dynamic qemu-user)"

# ---- 2. qemu-plugin.h of exactly the installed qemu (from its Debian source package), cached ----
qemu_src_version=$(dpkg-query -W -f='${source:Version}' qemu-user 2>/dev/null || true)
[ -n "$qemu_src_version" ] || die "cannot read the qemu-user package version (dpkg-query)"
hdr_dir="$cache/qemu-$qemu_src_version"
if [ ! -s "$hdr_dir/qemu-plugin.h" ]; then
  [ "$(id -u)" -eq 0 ] || die "qemu-plugin.h is not cached in $hdr_dir; run once as root"
  log "fetching qemu $qemu_src_version source (for qemu-plugin.h)"
  . /etc/os-release
  apt_dir="$cache/apt"
  rm -rf "$apt_dir" && mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/src"
  # A private deb-src configuration: the host's own apt sources and dpkg state stay untouched.
  cat >"$apt_dir/sources.list" <<EOF
deb-src $mirror/debian $VERSION_CODENAME main
deb-src $mirror/debian $VERSION_CODENAME-updates main
deb-src $mirror/debian-security $VERSION_CODENAME-security main
EOF
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
            -o "APT::Sandbox::User=root" -o "Acquire::Check-Valid-Until=false")
  apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 \
    || { tail "$apt_dir/update.log" >&2; die "apt-get update (deb-src) failed"; }
  (cd "$apt_dir/src" && apt-get "${apt_opts[@]}" source --download-only "qemu=$qemu_src_version" \
     >"$apt_dir/source.log" 2>&1) \
    || { tail "$apt_dir/source.log" >&2; die "apt-get source qemu=$qemu_src_version failed"; }
  orig=$(ls "$apt_dir"/src/qemu_*.orig.tar.* | head -1)
  member=$(tar -tf "$orig" | grep '/include/qemu/qemu-plugin.h$' | sed -n 1p || true)
  [ -n "$member" ] || die "no qemu-plugin.h in $orig"
  mkdir -p "$hdr_dir"
  tar -xOf "$orig" "$member" >"$hdr_dir/qemu-plugin.h.tmp" && mv "$hdr_dir/qemu-plugin.h.tmp" "$hdr_dir/qemu-plugin.h"
  rm -rf "$apt_dir"  # 24 MB of source; only the header is kept
fi

# ---- 3. the plugin ----
plugin="$work/libsymcount.so"
plugin_src="$root/cross-toolchains/qemu-plugins/symcount.c"
if [ ! -s "$plugin" ] || [ "$plugin_src" -nt "$plugin" ] || [ "$hdr_dir/qemu-plugin.h" -nt "$plugin" ]; then
  gcc -shared -fPIC -O2 -Wall -Wextra -I"$hdr_dir" "$plugin_src" -o "$plugin"
fi

# ---- 4. llvm-mca, drivers, qemu runs, tables (Python) ----
export KP_ROOT="$root" KP_WORK="$work" KP_OUT="$out_json" KP_QEMU="$qemu" KP_PLUGIN="$plugin" \
       KP_CLANG="clang-$llvm_version" KP_MCA="llvm-mca-$llvm_version" KP_START="$start_s" \
       KP_QEMU_VERSION="$qemu_src_version" KP_JOBS="${KP_JOBS:-1}"
exec /usr/bin/python3 - <<'PY'
import concurrent.futures, json, os, re, subprocess, sys, time

ROOT, WORK, OUT = os.environ["KP_ROOT"], os.environ["KP_WORK"], os.environ["KP_OUT"]
CLANG, MCA, QEMU, PLUGIN = os.environ["KP_CLANG"], os.environ["KP_MCA"], os.environ["KP_QEMU"], os.environ["KP_PLUGIN"]
JOBS = max(1, int(os.environ.get("KP_JOBS", "1")))
CK = os.path.join(ROOT, "Sources", "CKernels")
TRIPLE = "aarch64-linux-gnu"
MCA_ITERATIONS = 1000

def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"[kernel-peak] error: {' '.join(cmd)} exited {r.returncode}\n{r.stderr[-3000:]}")
    return r.stdout

def first_line(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.splitlines()[0].strip()
    except Exception:
        return "?"

# The hot kernels. MACs per K-loop iteration = mr * nr * k_step (k_step = k bytes one iteration consumes per row).
KERNELS = [
    dict(name="gemm-2x8c8-neon-mlal", isa="neon", mode="gemm", mr=2, nr=8, k_step=16,
         file="qs8-qc8w-gemm/qs8-qc8w-gemm-2x8c8-minmax-rndnu-neon-mlal.c",
         symbol="ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_2x8c8__neon_mlal"),
    dict(name="igemm-2x8c8-neon-mlal", isa="neon", mode="igemm", mr=2, nr=8, k_step=16,
         file="qs8-qc8w-igemm/qs8-qc8w-igemm-2x8c8-minmax-rndnu-neon-mlal.c",
         symbol="ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_2x8c8__neon_mlal"),
    dict(name="gemm-4x16c4-neondot", isa="neondot", mode="gemm", mr=4, nr=16, k_step=8,
         file="qs8-qc8w-gemm/qs8-qc8w-gemm-4x16c4-minmax-rndnu-neondot.c",
         symbol="ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x16c4__neondot"),
    dict(name="igemm-4x16c4-neondot", isa="neondot", mode="igemm", mr=4, nr=16, k_step=8,
         file="qs8-qc8w-igemm/qs8-qc8w-igemm-4x16c4-minmax-rndnu-neondot.c",
         symbol="ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x16c4__neondot"),
]
SCALAR_SYMBOLS = {"gemm": "ck_qs8_qc8w_gemm_minmax_rndnu_ukernel_4x4__scalar",
                  "igemm": "ck_qs8_qc8w_igemm_minmax_rndnu_ukernel_4x4__scalar"}

# Peak int8 MACs per cycle and core, by instruction class.
#  Cortex-A72 (Software Optimization Guide, UAN 0016A): two 128-bit FP/ASIMD pipes F0/F1, but "ASIMD integer
#    multiply" issues on F0 only; SMULL/SMLAL (8B->8H) are 8 MACs at a throughput of 1/cycle -> 8 MACs/cycle.
#    SADALP (the int16->int32 pairwise accumulation) goes to F1 and is not a MAC. The A72 has no SDOT.
#    llvm-mca's cortex-a72 (= LLVM's Cortex-A57 model) agrees on the pipes and throughputs: SMULL/SMLAL on
#    A57UnitW (F0) with RThroughput 1, SADALP on A57UnitX (F1); only its multiply latency is the A57's (5, A72: 4).
#  Cortex-A76 (Software Optimization Guide): ASIMD multiply (SMULL/SMLAL) on V0 only -> 8 MACs/cycle as well;
#    SDOT (4 lanes x 4 byte products = 16 MACs) on V0 and V1 -> 2 x 16 = 32 MACs/cycle.
PEAK = {("cortex-a72", "neon"): 8, ("cortex-a76", "neon"): 8, ("cortex-a76", "neondot"): 32}
PEAK_NOTE = {
    "cortex-a72/neon": "8 MACs/cycle: SMULL/SMLAL 8B->8H (8 int8 MACs) issue on F0 only, 1/cycle "
                       "(A72 SOG: ASIMD integer multiply = F0; llvm-mca: A57UnitW, RThroughput 1)",
    "cortex-a76/neon": "8 MACs/cycle: SMULL/SMLAL on V0 only, 1/cycle (A76 SOG; llvm-mca neoverse-n1: N1UnitV0, "
                       "RThroughput 1)",
    "cortex-a76/neondot": "32 MACs/cycle: SDOT .4s (16 MACs) on V0 and V1, 2/cycle (A76 SOG; llvm-mca neoverse-n1: "
                          "V0|V1, RThroughput 0.5)",
}
# (label, -mcpu for clang's tuned build and for llvm-mca, the core whose peak applies)
MCA_TARGETS = [("cortex-a72", "cortex-a72", "cortex-a72"),
               ("cortex-a76", "cortex-a76", "cortex-a76"),
               ("a76 (neoverse-n1 model)", "neoverse-n1", "cortex-a76")]

# ---------------------------------------------------------------------------------------------------------------
# How the K loop is found. clang -S writes verbose assembly: every loop header block carries a comment from LLVM's
# MachineLoopInfo, "=>This Inner Loop Header: Depth=N" for innermost loops (on the label line or the comment lines
# right after it). Inside the kernel's function (between "<symbol>:" and ".Lfunc_end"), each innermost loop whose
# header block ends in a branch back to its own label is a single-basic-block loop: that block is the whole loop
# body. The K loop is the one with the most SMULL/SMLAL/SDOT instructions (the K remainders are straight-line code,
# not loops). Its body is wrapped in "# LLVM-MCA-BEGIN kloop" / "# LLVM-MCA-END" into a file of its own, which
# llvm-mca runs as a loop. This needs no marker in the C sources (inline-asm markers would change the code being
# measured) and it fails loudly, rather than measuring something else, if the hot loop ever has internal branches.
# ---------------------------------------------------------------------------------------------------------------
LABEL = re.compile(r"^(\.?[A-Za-z_$][\w.$]*):")
BRANCH = re.compile(r"^(b(\.\w+)?|cbn?z|tbn?z|br|ret)$")
MUL_MACS = re.compile(r"^(smull2?|umull2?|smlal2?|umlal2?|smlsl2?|sdot|udot|usdot)$")

def macs_of(mnemonic, operands):
    m = re.search(r"v\d+\.(\d+)([bhs])", operands)  # destination arrangement
    lanes = int(m.group(1)) if m else 0
    if mnemonic in ("sdot", "udot", "usdot"):
        return 4 * lanes           # .4s: 16 byte products, .2s: 8
    return lanes                    # smull/smlal .8h: 8 products, .4s: 4

def extract_kloop(asm_text, symbol):
    lines = asm_text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith(symbol + ":"))
    except StopIteration:
        sys.exit(f"[kernel-peak] error: {symbol} not found in the assembly")
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(".Lfunc_end")), len(lines))
    body = lines[start:end]
    candidates = []
    for i, line in enumerate(body):
        lm = LABEL.match(line)
        if not lm:
            continue
        j, header = i + 1, "Inner Loop Header" in line
        while j < len(body) and body[j].strip().startswith("//"):
            header = header or "Inner Loop Header" in body[j]
            j += 1
        if not header:
            continue
        label, insns, closed = lm.group(1), [], False
        for k in range(j, len(body)):
            s = body[k].split("//")[0].strip()
            if not s or s.startswith("."):
                if LABEL.match(body[k]):
                    break   # the block falls through into another block: not a single-block loop
                continue
            parts = s.split(None, 1)
            insns.append((parts[0], parts[1] if len(parts) > 1 else ""))
            if BRANCH.match(parts[0]):
                closed = insns[-1][1].split(",")[-1].strip() == label
                break
        if closed:
            macs = sum(macs_of(mn, ops) for mn, ops in insns if MUL_MACS.match(mn))
            candidates.append((macs, label, insns))
    if not candidates or max(candidates)[0] == 0:
        sys.exit(f"[kernel-peak] error: no single-block innermost loop with multiplies in {symbol}: "
                 "the K loop has internal branches; mark it by hand with LLVM-MCA-BEGIN/END")
    macs, label, insns = max(candidates, key=lambda c: c[0])
    return dict(label=label, macs=macs, instructions=insns)

def parse_mca(text):
    g = lambda pat: float(re.search(pat, text, re.M).group(1))
    res = {}
    names = dict(re.findall(r"^\[([\d.]+)\]\s+-\s+(\S+)", text, re.M))
    m = re.search(r"Resource pressure per iteration:\n(.*)\n(.*)\n", text)
    if m:
        keys = re.findall(r"\[([\d.]+)\]", m.group(1))
        vals = m.group(2).split()
        for k, v in zip(keys, vals):
            name = names.get(k, k) + ("" if "." not in k else "." + k.split(".")[1])
            res[name] = 0.0 if v == "-" else float(v)
    iterations, cycles = g(r"^Iterations:\s+(\d+)"), g(r"^Total Cycles:\s+(\d+)")
    return dict(cycles_per_iteration=cycles / iterations, uops_per_iteration=g(r"^Total uOps:\s+(\d+)") / iterations,
                block_rthroughput=g(r"^Block RThroughput:\s+([\d.]+)"),
                ipc=g(r"^IPC:\s+([\d.]+)"), dispatch_width=int(g(r"^Dispatch Width:\s+(\d+)")), resource_pressure=res)

def mca_model(cpu):
    text = subprocess.run([MCA, f"-mtriple={TRIPLE}", f"-mcpu={cpu}", "-iterations=1", "-resource-pressure=true",
                           "-instruction-info=false", "-"], input="add x0, x0, #1\n",
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"^\[\d+\]\s+-\s+([A-Za-z0-9]+?)Unit", text, re.M)
    return {"A57": "CortexA57Model", "N1": "NeoverseN1Model"}.get(m.group(1), m.group(1) + " model") if m else "?"

asm_dir, mca_dir = os.path.join(WORK, "asm"), os.path.join(WORK, "mca")
os.makedirs(asm_dir, exist_ok=True)
os.makedirs(mca_dir, exist_ok=True)

def compile_asm(kernel, build, mcpu):
    flags = ["-O3"] + ([f"-mcpu={mcpu}"] if build == "tuned" else [])
    out = os.path.join(asm_dir, f"{kernel['name']}.{build}{'-' + mcpu if build == 'tuned' else ''}.s")
    run([CLANG, f"--target={TRIPLE}", *flags, "-S", f"-I{CK}/include", os.path.join(CK, kernel["file"]), "-o", out])
    return out, flags

mca_rows, loop_by_build = [], {}
models = {cpu: mca_model(cpu) for _, cpu, _ in MCA_TARGETS}
for kernel in KERNELS:
    for label, mcpu, core in MCA_TARGETS:
        if (core, kernel["isa"]) not in PEAK:
            continue  # no SDOT on the Cortex-A72
        for build in ("shipped", "tuned"):
            asm_path, flags = compile_asm(kernel, build, "cortex-a76" if mcpu == "neoverse-n1" else mcpu)
            with open(asm_path) as f:
                loop = extract_kloop(f.read(), kernel["symbol"])
            expected = kernel["mr"] * kernel["nr"] * kernel["k_step"]
            if loop["macs"] != expected:
                sys.exit(f"[kernel-peak] error: {kernel['name']}: the K loop found does {loop['macs']} MACs, "
                         f"mr*nr*k_step = {expected}")
            tag = f"{kernel['name']}.{build}.{mcpu}"
            loop_path = os.path.join(mca_dir, tag + ".loop.s")
            with open(loop_path, "w") as f:
                f.write("# LLVM-MCA-BEGIN kloop\n")
                f.write("".join(f"\t{mn}\t{ops}\n" for mn, ops in loop["instructions"]))
                f.write("# LLVM-MCA-END\n")
            mattr = ["-mattr=+dotprod"] if kernel["isa"] == "neondot" else []
            report = run([MCA, f"-mtriple={TRIPLE}", f"-mcpu={mcpu}", *mattr, f"-iterations={MCA_ITERATIONS}",
                          "-bottleneck-analysis", loop_path])
            with open(os.path.join(mca_dir, tag + ".mca.txt"), "w") as f:
                f.write(report)
            p = parse_mca(report)
            top = max(p["resource_pressure"].items(), key=lambda kv: kv[1]) if p["resource_pressure"] else ("?", 0)
            # What limits the loop: the busiest pipeline, or dispatch (uops per iteration / dispatch width).
            dispatch_cycles = p["uops_per_iteration"] / p["dispatch_width"]
            limit = (f"{top[0]} {top[1]:.1f}" if top[1] >= dispatch_cycles - 0.05
                     else f"dispatch {dispatch_cycles:.1f}")
            n_insns = len(loop["instructions"])
            movs = sum(1 for mn, ops in loop["instructions"] if mn == "mov" and ops.startswith("v"))
            spills = sum(1 for mn, ops in loop["instructions"]
                         if re.match(r"^(ldr|str|ldp|stp)$", mn) and "sp" in re.findall(r"\[(\w+)", ops))
            macs_per_cycle = loop["macs"] / p["cycles_per_iteration"]
            peak = PEAK[(core, kernel["isa"])]
            row = dict(kernel=kernel["name"], file=f"Sources/CKernels/{kernel['file']}", symbol=kernel["symbol"],
                       build=build, clang_flags=" ".join(flags),
                       mca_target=label, mca_mcpu=mcpu, mca_model=models[mcpu], core=core,
                       loop_label=loop["label"], loop_instructions=n_insns, loop_vector_movs=movs, loop_stack_accesses=spills,
                       macs_per_iteration=loop["macs"], cycles_per_iteration=round(p["cycles_per_iteration"], 3),
                       block_rthroughput=p["block_rthroughput"], ipc=p["ipc"], dispatch_width=p["dispatch_width"],
                       macs_per_cycle=round(macs_per_cycle, 3), peak_macs_per_cycle=peak,
                       percent_of_peak=round(100 * macs_per_cycle / peak, 1),
                       busiest_resource=top[0], busiest_resource_cycles=top[1], limited_by=limit,
                       uops_per_iteration=p["uops_per_iteration"],
                       resource_pressure=p["resource_pressure"],
                       loop_asm=os.path.relpath(loop_path, ROOT),
                       mca_report=os.path.relpath(os.path.join(mca_dir, tag + ".mca.txt"), ROOT))
            mca_rows.append(row)
            key = (kernel["name"], "shipped" if build == "shipped" else f"tuned-{core}")
            loop_by_build[key] = (n_insns, loop["macs"])

# ---- qemu: instruction counts per kernel symbol ----
CASES = [  # (label, driver arguments, what it is)
    ("conv2_x gemm", ["gemm", "3136", "64", "576"], "ResNet18 conv2_x 3x3 64->64 at 56x56 as GEMM (M=3136 N=64 K=576)"),
    ("conv2_x igemm", ["conv", "56", "56", "64", "64", "3"], "the same layer as IGEMM (kc=64, ks=9)"),
    ("conv4_x gemm", ["gemm", "196", "256", "2304"], "ResNet18 conv4_x 3x3 256->256 at 14x14 as GEMM (M=196 N=256 K=2304)"),
    ("conv4_x igemm", ["conv", "14", "14", "256", "256", "3"], "the same layer as IGEMM (kc=256, ks=9)"),
]
BUILDS = {"shipped": ["-O3"], "tuned-cortex-a72": ["-O3", "-mcpu=cortex-a72"], "tuned-cortex-a76": ["-O3", "-mcpu=cortex-a76"]}
sources = sorted(os.path.join(d, f) for d, _, fs in os.walk(CK) for f in fs if f.endswith(".c"))
driver_src = os.path.join(ROOT, "bench", "kernel-driver", "gemm_driver.c")
drivers = {}
for build, flags in BUILDS.items():
    exe = os.path.join(WORK, f"gemm_driver.{build}.{os.path.basename(CLANG)}")
    newest = max(os.path.getmtime(p) for p in sources + [driver_src] +
                 [os.path.join(dp, f) for dp, _, fs in os.walk(CK) for f in fs if f.endswith(".h")])
    if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
        run([CLANG, f"--target={TRIPLE}", *flags, "-static", "-Wall", f"-I{CK}/include", driver_src, *sources,
             "-lm", "-o", exe + ".tmp"])
        os.replace(exe + ".tmp", exe)
    drivers[build] = exe

# (qemu -cpu, builds, ISAs): the tuned build for the CPU beside the shipped one; neondot only where the CPU has it.
RUNS = [("cortex-a72", ["shipped", "tuned-cortex-a72"], ["neon"]),
        ("cortex-a76", ["shipped", "tuned-cortex-a76"], ["neon", "neondot"])]
jobs = []
for cpu, builds, isas in RUNS:
    for case in CASES:
        jobs.append((cpu, "shipped", "scalar", case))
        for build in builds:
            for isa in isas:
                jobs.append((cpu, build, isa, case))

def qemu_run(job):
    cpu, build, isa, (label, args, _) = job
    counts = os.path.join(WORK, "counts", f"{cpu}.{build}.{isa}.{label.replace(' ', '-')}.txt")
    os.makedirs(os.path.dirname(counts), exist_ok=True)
    stdout = run([QEMU, "-cpu", cpu, "-plugin", f"{PLUGIN},filter=ck_,out={counts}", drivers[build], isa, *args])
    kv = dict(x.split("=", 1) for x in stdout.split())
    sym = {}
    with open(counts) as f:
        for line in f:
            n, name = line.split()
            sym[name] = int(n)
    return job, kv, sym

t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
    results = list(pool.map(qemu_run, jobs))
qemu_seconds = time.time() - t0

reference = {}
for (cpu, build, isa, case), kv, sym in results:
    if isa == "scalar":
        reference[(cpu, case[0])] = kv["checksum"]
qemu_rows, problems = [], []
for (cpu, build, isa, case), kv, sym in results:
    mode = kv["mode"]
    symbol = (SCALAR_SYMBOLS[mode] if isa == "scalar"
              else next(k["symbol"] for k in KERNELS if k["isa"] == isa and k["mode"] == mode))
    if symbol not in sym:
        sys.exit(f"[kernel-peak] error: no instructions counted for {symbol} ({cpu} {build} {isa} {case[0]})")
    insns, macs = sym[symbol], int(kv["macs"])
    kname = None if isa == "scalar" else next(k["name"] for k in KERNELS if k["symbol"] == symbol)
    loop = loop_by_build.get((kname, build)) if kname else None
    loop_share = None
    if loop:
        loop_share = (loop[0] / loop[1]) / (insns / macs)
    ok = kv["checksum"] == reference[(cpu, case[0])]
    if not ok:
        problems.append(f"{cpu} {build} {isa} {case[0]}: checksum {kv['checksum']} != scalar {reference[(cpu, case[0])]}")
    qemu_rows.append(dict(cpu=cpu, build=build, isa=isa, kernel=kv["kernel"], symbol=symbol, case=case[0],
                          case_description=case[2], mode=mode, m=int(kv["m"]), n=int(kv["n"]), k=int(kv["k"]),
                          kc=int(kv["kc"]), ks=int(kv["ks"]), macs=macs, kernel_instructions=insns,
                          process_instructions=sym.get("<total>"),
                          instructions_per_mac=round(insns / macs, 4), macs_per_instruction=round(macs / insns, 3),
                          k_loop_share=None if loop_share is None else round(loop_share, 3),
                          checksum=kv["checksum"], matches_scalar=ok))

# Estimated whole-kernel % of peak: the loop's llvm-mca rate scaled by the share of executed instructions that are
# the K loop (assumes the other instructions retire at the loop's IPC; the pointer and epilogue code is no faster).
def mca_row(kernel_name, build, target_label):
    b = "shipped" if build == "shipped" else "tuned"
    for r in mca_rows:
        if r["kernel"] == kernel_name and r["build"] == b and r["mca_target"] == target_label:
            return r
    return None
for r in qemu_rows:
    if r["isa"] == "scalar" or r["k_loop_share"] is None:
        continue
    kname = next(k["name"] for k in KERNELS if k["symbol"] == r["symbol"])
    target = "a76 (neoverse-n1 model)" if r["cpu"] == "cortex-a76" else "cortex-a72"
    mr = mca_row(kname, r["build"], target)
    if mr:
        r["estimated_percent_of_peak"] = round(mr["percent_of_peak"] * r["k_loop_share"], 1)
        r["estimate_model"] = target

# Counts must not depend on the emulated CPU (same binary, same path): check it.
by_key = {}
for r in qemu_rows:
    by_key.setdefault((r["build"], r["isa"], r["case"]), set()).add(r["kernel_instructions"])
cpu_independent = all(len(v) == 1 for k, v in by_key.items() if k[0] == "shipped")

# ---- output ----
def fmt_table(headers, rows):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).rjust(w[i]) if i > 1 else str(c).ljust(w[i]) for i, c in enumerate(cells))
    return "\n".join([line(headers), line(["-" * x for x in w])] + [line(r) for r in rows])

clang_version = first_line([CLANG, "--version"])
mca_lines = subprocess.run([MCA, "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()
mca_version = next((l.strip() for l in mca_lines if "version" in l.lower()), "?")
print(f"INT8 GEMM/IGEMM micro-kernels, aarch64 ({clang_version}; {mca_version}; qemu-user {os.environ['KP_QEMU_VERSION']})")
print()
print("1. llvm-mca, steady-state K loop (shipped = -O3 as Package.swift builds CKernels; tuned = -O3 -mcpu=<core>)")
rows = []
for r in mca_rows:
    rows.append([r["kernel"], r["build"], f"{r['mca_target']} [{r['mca_model']}]", r["loop_instructions"], r["loop_vector_movs"],
                 r["macs_per_iteration"], f"{r['cycles_per_iteration']:.2f}", f"{r['macs_per_cycle']:.2f}",
                 r["peak_macs_per_cycle"], f"{r['percent_of_peak']:.0f}%", r["limited_by"]])
print(fmt_table(["kernel", "build", "llvm-mca -mcpu [model]", "insns", "v-movs", "MACs/it", "cyc/it", "MACs/cyc",
                 "peak", "of peak", "limited by (cyc/it)"], rows))
warnings = sorted({f"{r['kernel']} ({r['build']}, {r['clang_flags']}): the K loop has {r['loop_vector_movs']} vector "
                   f"register moves and {r['loop_stack_accesses']} stack accesses (register-allocation copies/spills; "
                   f"see {os.path.dirname(r['loop_asm'])})"
                   for r in mca_rows if r["loop_vector_movs"] or r["loop_stack_accesses"]})
for w in warnings:
    print(f"   WARNING: {w}")
print()
print("   peaks (int8 MACs/cycle/core):")
for k, v in PEAK_NOTE.items():
    print(f"   - {k}: {v}")
print()
print("2. qemu-aarch64 + symcount plugin, executed instructions of the kernel symbol (single thread)")
rows = []
for r in qemu_rows:
    rows.append([r["case"], r["cpu"], r["build"], r["kernel"].replace("qs8-qc8w-", "").replace("-minmax-rndnu", ""),
                 f"{r['macs'] / 1e6:.1f}M", f"{r['kernel_instructions'] / 1e6:.2f}M", f"{r['instructions_per_mac']:.3f}",
                 f"{r['macs_per_instruction']:.2f}", "" if r["k_loop_share"] is None else f"{100 * r['k_loop_share']:.0f}%",
                 f"{r['estimated_percent_of_peak']:.0f}%" if "estimated_percent_of_peak" in r else "",
                 "ok" if r["matches_scalar"] else "MISMATCH"])
print(fmt_table(["case", "-cpu", "build", "kernel", "MACs", "insns", "insn/MAC", "MAC/insn", "K-loop share",
                 "est. of peak", "bytes"], rows))
print()
print("   K-loop share = (K-loop instructions per MAC) / (executed instructions per MAC); est. of peak = llvm-mca % of")
print("   peak of the loop (a72 model; neoverse-n1 model for the A76) x K-loop share. bytes: output equals the scalar")
print("   reference. Counts are identical under -cpu cortex-a72 and cortex-a76 for the same binary: "
      f"{'yes' if cpu_independent else 'NO'}.")

elapsed = time.time() - float(os.environ["KP_START"])
doc = dict(
    generated_by="scripts/kernel-peak-aarch64.sh", date=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    tools=dict(clang=clang_version, llvm_mca=mca_version, qemu_user=os.environ["KP_QEMU_VERSION"],
               llvm_mca_models={cpu: m for cpu, m in models.items()}),
    peaks_macs_per_cycle={f"{c}/{i}": v for (c, i), v in PEAK.items()}, peak_notes=PEAK_NOTE,
    mca=mca_rows, qemu=qemu_rows, qemu_counts_cpu_independent=cpu_independent, cases={c[0]: c[2] for c in CASES},
    seconds=dict(total=round(elapsed, 1), qemu_runs=round(qemu_seconds, 1)), warnings=warnings, problems=problems)
with open(OUT + ".tmp", "w") as f:
    json.dump(doc, f, indent=1)
os.replace(OUT + ".tmp", OUT)
print(f"\nwrote {os.path.relpath(OUT, ROOT)} in {elapsed:.0f} s")
if problems:
    print("\n".join(["PROBLEMS:"] + problems), file=sys.stderr)
    sys.exit(1)
PY
