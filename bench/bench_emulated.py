#!/usr/bin/env python3
"""The measuring part of scripts/bench-emulated.sh (which sets up the tools and exports BE_*). Not run directly."""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

E = os.environ
ROOT, CACHE = Path(E["BE_ROOT"]), Path(E["BE_CACHE"])
QEMU, PLUGIN, PY_ROOT, SYSROOT, BIN = E["BE_QEMU"], E["BE_PLUGIN"], E["BE_PY_ROOT"], E["BE_SYSROOT"], E["BE_BIN"]
CPU, MODEL_ARG = E["BE_CPU"], E["BE_MODEL"]
RUNS, EXTRA = int(E["BE_RUNS"]), int(E["BE_EXTRA"])
THREADS = [int(t) for t in E["BE_THREADS"].split()]
RUNTIMES = E["BE_RUNTIMES"].split()
CHECK, CACHE_MODEL = E["BE_CHECK"] == "1", E["BE_CACHE_MODEL"] == "1"
MCA, MC = E["BE_MCA"], E["BE_MC"]
PHOTOS = ROOT.parent / "shared" / "testdata" / "images"
BENCH_MODELS = ("resnet18", "resnet50", "mobilenetv2", "resnet-narrow64")

# The modelled cores. llvm-mca: LLVM schedules -mcpu=cortex-a76 with its Cortex-A57 model (as it does the A72), so
# the A76 is modelled with neoverse-n1, the server core on the A76 micro-architecture (scripts/kernel-peak-aarch64.sh).
# Caches (data side; sizes as on the boards) and the miss penalties added to the cycle model, in core cycles, with no
# overlap between a miss and other work (an upper bound: out-of-order execution and the hardware prefetchers hide part).
CORES = {
    "cortex-a72": dict(mca="cortex-a72", peak=8, board="Raspberry Pi 4 (BCM2711, 1.8 GHz)",
                       l1=(32768, 2), l2=(1048576, 16, "shared"), l3=None,
                       penalty={"l1_miss_l2_hit": 12, "l2_miss": 150, "l3_miss": 0},
                       penalty_note="L2 hit about 16 cycles load-to-use vs 4 for L1 (+12); DRAM about 85 ns at "
                                    "1.8 GHz (+150); no L3"),
    "cortex-a76": dict(mca="neoverse-n1", peak=32, board="Raspberry Pi 5 (BCM2712, 2.4 GHz)",
                       l1=(65536, 4), l2=(524288, 8, "private"), l3=(2097152, 16),
                       penalty={"l1_miss_l2_hit": 7, "l2_miss": 25, "l3_miss": 200},
                       penalty_note="L2 hit about 11 cycles vs 4 (+7); L3 (DSU) hit about 30 cycles (+25 over L2 "
                                    "miss); DRAM about 85 ns at 2.4 GHz (+200)"),
    "haswell": dict(mca="haswell", peak=32, board="x86-64 Haswell (AVX2, no VNNI)",
                    l1=(32768, 8), l2=(262144, 8, "private"), l3=(8388608, 16),
                    penalty={"l1_miss_l2_hit": 8, "l2_miss": 26, "l3_miss": 200}, penalty_note="Haswell-class"),
}
CORE = CORES[CPU]
CPUINFO = {
    "cortex-a72": ("0x0", "0xd08", "3", "fp asimd evtstrm crc32 cpuid"),
    "cortex-a76": ("0x4", "0xd0b", "1", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                                        "asimdrdm lrcpc dcpop asimddp"),
}


def log(msg):
    print(f"[bench-emulated] {msg}", file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


def sha(path, n=16):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


# ---------------------------------------------------------------------------------------------------------------
# Model, input, MACs, LiteRT model.
def prepare_model():
    host_py = str(CACHE / "host-venv" / "bin" / "python")
    if MODEL_ARG in BENCH_MODELS:
        d = CACHE / "models"
        if not (d / f"{MODEL_ARG}-qdq.onnx").exists():
            log(f"making the bench model {MODEL_ARG} (bench/make_bench_models.py)")
            subprocess.run([host_py, str(ROOT / "bench" / "make_bench_models.py"), "--out", str(d), "--models",
                            MODEL_ARG, "--images", str(PHOTOS)], check=True, stdout=subprocess.DEVNULL)
        meta = json.loads((d / f"{MODEL_ARG}.json").read_text())
        return dict(name=MODEL_ARG, qdq=str(d / f"{MODEL_ARG}-qdq.onnx"), fp32=str(d / f"{MODEL_ARG}.onnx"),
                    png=str(d / f"{MODEL_ARG}.input.png"), npy=str(d / f"{MODEL_ARG}.input.npy"),
                    pre=str(d / f"{MODEL_ARG}.preprocess.json"), macs=meta["macs"], size=meta["size"])
    path = Path(MODEL_ARG).resolve()
    if not path.exists():
        die(f"no model {MODEL_ARG}")
    d = CACHE / "models" / f"user-{sha(path)}"
    d.mkdir(parents=True, exist_ok=True)
    info = d / "info.json"
    if not info.exists():
        code = r"""
import json, sys
import numpy as np, onnx
from PIL import Image
sys.path.insert(0, sys.argv[3])
import make_fixtures as mf
m = onnx.load(sys.argv[1])
dims = m.graph.input[0].type.tensor_type.shape.dim
h = dims[2].dim_value if len(dims) == 4 and dims[2].dim_value > 0 else 224
w = dims[3].dim_value if len(dims) == 4 and dims[3].dim_value > 0 else h
mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
preset = {"resize": int(round(min(h, w) * 256 / 224)), "crop": [h, w], "mean": mean, "std": std, "grayscale": False,
          "pad": 0, "channels": 3}
u8, x = mf.preprocess(sorted(p for p in __import__("pathlib").Path(sys.argv[4]).iterdir()
                             if p.suffix.lower() in (".jpg", ".png"))[0], preset)
d = sys.argv[2]
Image.fromarray(u8).save(d + "/input.png"); np.save(d + "/input.npy", x)
json.dump({"resize": 0, "crop": [h, w], "mean": mean, "std": std}, open(d + "/preprocess.json", "w"))
# MACs of Conv and Gemm (weights behind DequantizeLinear in a QDQ model).
m1 = onnx.ModelProto(); m1.CopyFrom(m)
for dd, v in zip(m1.graph.input[0].type.tensor_type.shape.dim, [1, 3, h, w]):
    dd.Clear(); dd.dim_value = v
m1 = onnx.shape_inference.infer_shapes(m1)
shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
          for v in list(m1.graph.value_info) + list(m1.graph.output) + list(m1.graph.input)}
inits = {i.name: list(i.dims) for i in m1.graph.initializer}
for n in m1.graph.node:
    if n.op_type == "DequantizeLinear" and n.input[0] in inits: inits[n.output[0]] = inits[n.input[0]]
macs = 0
for n in m1.graph.node:
    if n.op_type == "Conv": macs += int(np.prod(shapes[n.output[0]])) * int(np.prod(inits[n.input[1]][1:]))
    elif n.op_type == "Gemm": macs += int(np.prod(shapes[n.output[0]])) * inits[n.input[1]][1]
json.dump({"macs": macs, "size": h}, open(d + "/info.json", "w"))
"""
        subprocess.run([host_py, "-c", code, str(path), str(d), str(ROOT / "Tests" / "Fixtures"), str(PHOTOS)],
                       check=True)
    meta = json.loads(info.read_text())
    return dict(name=path.stem, qdq=str(path), fp32="", png=str(d / "input.png"), npy=str(d / "input.npy"),
                pre=str(d / "preprocess.json"), macs=meta["macs"], size=meta["size"])


def tflite_model(m):
    """(path, None) or (None, reason)."""
    key = sha(m["qdq"]) + (("-" + sha(m["fp32"])) if m["fp32"] else "")
    out, err = CACHE / "tflite" / f"{key}.tflite", CACHE / "tflite" / f"{key}.error.txt"
    conv_src = ROOT / "bench" / "onnx_to_tflite.py"
    if out.exists() and out.stat().st_mtime >= conv_src.stat().st_mtime:
        return str(out), None
    if err.exists() and err.stat().st_mtime >= conv_src.stat().st_mtime:
        return None, err.read_text().strip()
    log("converting the model for LiteRT (bench/onnx_to_tflite.py, tensorflow-cpu)")
    cmd = [str(CACHE / "tf-venv" / "bin" / "python"), str(conv_src), "--model", m["qdq"], "--output", str(out) + ".tmp",
           "--images", str(PHOTOS), "--size", str(m["size"])] + (["--fp32", m["fp32"]] if m["fp32"] else [])
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        lines = [l for l in r.stdout.splitlines() if l.strip() and not l.startswith(("W0000", "I0000"))]
        reason = next((l for l in reversed(lines) if "error" in l.lower() or "Unsupported" in l), lines[-1] if lines else "?")
        err.write_text(reason + "\n")
        return None, reason
    os.replace(str(out) + ".tmp", out)
    return str(out), None


# ---------------------------------------------------------------------------------------------------------------
# qemu runs.
def cpuinfo_file():
    if CPU not in CPUINFO:
        return None
    var, part, rev, feats = CPUINFO[CPU]
    p = CACHE / f"cpuinfo-{CPU}"
    text = "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {feats}\nCPU implementer\t: 0x41\n"
                   f"CPU architecture: 8\nCPU variant\t: {var}\nCPU part\t: {part}\nCPU revision\t: {rev}\n\n"
                   for i in range(4))
    if not p.exists() or p.read_text() != text:
        p.write_text(text)
    return str(p)


def plugin_arg(out, cache):
    a = f"{PLUGIN},out={out}"
    if cache:
        l1, l2, l3 = CORE["l1"], CORE["l2"], CORE["l3"]
        a += f",cache=1,l1={l1[0]}:{l1[1]},l2={l2[0]}:{l2[1]}:{l2[2]}" + (f",l3={l3[0]}:{l3[1]}" if l3 else "")
    return a


def run_one(runtime, m, tfl, threads, n, cache):
    """One qemu run of n inferences; returns (profile path, JSON result of the run, seconds)."""
    tag = f"{m['name']}.{CPU}.{runtime}.t{threads}.n{n}{'.cache' if cache else ''}"
    out = CACHE / "runs" / f"{tag}.prof"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if runtime == "resnet-edge":
        # The binary's RUNPATH is the chroot's path of the Swift runtime; under -L the guest path /usr/lib/swift/linux
        # resolves into the sysroot.
        cmd = [QEMU, "-L", SYSROOT, "-cpu", CPU, "-E", "LD_LIBRARY_PATH=/usr/lib/swift/linux",
               "-plugin", plugin_arg(out, cache), BIN, "classify", "--model", m["qdq"],
               "--preprocess", m["pre"], "--threads", str(threads), "--batch", "1", "--top", "1", "--json", "--logits"]
        cmd += [m["png"]] * n
    else:
        model = m["qdq"] if runtime == "onnxruntime" else tfl
        inner = [QEMU, "-L", PY_ROOT, "-cpu", CPU, "-plugin", plugin_arg(out, cache), "-E", "PYTHONPATH=/opt/site-packages",
                 "-E", "PYTHONDONTWRITEBYTECODE=1", f"{PY_ROOT}/usr/bin/python3.11", str(ROOT / "bench" / "emulated_peer.py"),
                 "--runtime", runtime, "--model", model, "--input", m["npy"], "--runs", str(n), "--threads", str(threads)]
        info = cpuinfo_file()
        cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /proc/cpuinfo && exec "$@"', info] + inner
    saved = Path(str(out) + ".result.json")
    if E.get("BE_REUSE_RUNS") == "1" and saved.exists() and out.exists():
        return str(out), json.loads(saved.read_text()), 0.0
    t0 = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    secs = time.time() - t0
    if r.returncode != 0:
        return None, f"exit {r.returncode}: " + (r.stderr.strip().splitlines() or ["?"])[-1][:300], secs
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return None, "no output: " + r.stderr[-300:], secs
    res = json.loads(lines[-1])
    if runtime == "resnet-edge":
        res = {"top1": res["top"][0], "logits": res["logits"]}
    saved.write_text(json.dumps(res))
    return str(out), res, secs


def parse_prof(path):
    tbs, maps, segs, vcpu, cache = {}, [], [], {}, {}
    with open(path) as f:
        for line in f:
            k = line[0]
            if k == "T":
                head, insns = line.rstrip("\n").split(" | ")
                p = head.split()
                counts = np.array([int(c) for c in p[7:]], dtype=np.int64)
                key = (int(p[1], 16), int(p[2]))
                tbs[key] = dict(flags=int(p[3]), miss=np.array([int(p[4]), int(p[5]), int(p[6])], np.int64),
                                counts=counts, insns=insns)
            elif k == "M":
                p = line.rstrip("\n").split(" ", 5)
                maps.append((int(p[1], 16), int(p[2], 16), int(p[3], 16), p[5]))
            elif k == "S":
                segs.append([int(v) for v in line.split()[1:]])
            elif k == "V":
                p = [int(v) for v in line.split()[1:]]
                vcpu[p[0]] = dict(total=p[1], work=p[2], wait=p[3])
            elif k == "C":
                p = [int(v) for v in line.split()[1:]]
                cache[p[0]] = dict(accesses=p[1], misses=p[2])
    return dict(tbs=tbs, maps=maps, segs=segs, vcpu=vcpu, cache=cache)


def diff_tbs(a, b, k, nv):
    """Per-inference (b - a) / k per TB: counts per vCPU (padded to nv) and misses."""
    out = {}
    for key, tb in b["tbs"].items():
        c = np.zeros(nv, np.float64)
        c[:len(tb["counts"])] = tb["counts"][:nv]
        miss = tb["miss"].astype(np.float64)
        ta = a["tbs"].get(key)
        if ta is not None:
            c[:len(ta["counts"])] -= ta["counts"][:nv]
            miss = miss - ta["miss"]
        if c.sum() <= 0 and miss.sum() <= 0:
            continue
        out[key] = dict(counts=c / k, miss=miss / k, insns=tb["insns"], flags=tb["flags"])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Symbols: guest address -> file (the guest's file mappings) -> ELF address (PT_LOAD) -> symbol (.symtab, else .dynsym).
_elf = {}


def elf_info(path):
    if path in _elf:
        return _elf[path]
    info = dict(loads=[], syms=[], addrs=[], table=None)
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise ValueError
        phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
            if p_type == 1:
                info["loads"].append((p_offset, p_vaddr, p_filesz))
        secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        for want, name in ((2, "symtab"), (11, "dynsym")):
            for s in secs:
                if s[1] != want:
                    continue
                strtab = secs[s[6]]
                syms = []
                for j in range(s[5] // 24):
                    st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", data, s[4] + j * 24)
                    if (st_info & 0xf) == 2 and st_value and st_shndx:
                        end = data.index(b"\0", strtab[4] + st_name)
                        syms.append((st_value, st_size, data[strtab[4] + st_name:end].decode(errors="replace")))
                if syms:
                    syms.sort()
                    info["syms"], info["addrs"], info["table"] = syms, [x[0] for x in syms], name
                    break
            if info["syms"]:
                break
    except (OSError, ValueError, struct.error):
        pass
    _elf[path] = info
    return info


def symbolize(vaddr, maps):
    import bisect
    for lo, hi, off, path in maps:
        if lo <= vaddr < hi:
            info = elf_info(path)
            foff = vaddr - lo + off
            eva = None
            for p_off, p_va, p_sz in info["loads"]:
                if p_off <= foff < p_off + p_sz:
                    eva = foff - p_off + p_va
            base = os.path.basename(path)
            if eva is None or not info["syms"]:
                return f"{base}:unnamed", base, info["table"]
            i = bisect.bisect_right(info["addrs"], eva) - 1
            if i < 0:
                return f"{base}:unnamed", base, info["table"]
            value, size, name = info["syms"][i]
            if size and eva >= value + size:
                return f"{base}:unnamed", base, info["table"]
            return name, base, info["table"]
    return "<no file>", "<anon>", None


# What a block computes, from its encodings (for code without a symbol: stripped libraries keep only .dynsym).
KINDS = [("int8 dot-product code (sdot/udot)", [(0x9f20fc00, 0x0e809400), (0x9fc0f400, 0x0f80e000)]),
         ("int8 widening-multiply code (smull/umull/smlal/umlal)", [(0x9f20fc00, 0x0e208000), (0x9f20fc00, 0x0e20c000)]),
         ("fp32 FMA code (fmla)", [(0xbfa0fc00, 0x0e20cc00), (0xbf80f400, 0x0f801000)])]


def block_kind(insns):
    words = [int(w, 16) for w in insns.split(":")]
    for name, pats in KINDS:
        if any((w & mask) == val for w in words for mask, val in pats):
            return name
    return "other code"


def demangle(names):
    names = list(names)
    out = dict(zip(names, names))
    cxx = [n for n in names if n.startswith("_Z")]
    if cxx:
        r = subprocess.run(["c++filt"], input="\n".join(cxx), stdout=subprocess.PIPE, text=True)
        out.update(zip(cxx, r.stdout.splitlines()))
    sw = [n for n in names if n.startswith(("$s", "_$s"))]
    dm = next((p for p in ("/opt/swift/usr/bin/swift-demangle", "swift-demangle") if os.path.exists(p) or
               subprocess.run(["which", p], stdout=subprocess.DEVNULL).returncode == 0), None)
    if sw and dm:
        r = subprocess.run([dm, "--simplified", "--compact"], input="\n".join(sw), stdout=subprocess.PIPE, text=True)
        out.update(zip(sw, r.stdout.splitlines()))
    return {k: (v if len(v) <= 90 else v[:87] + "...") for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------------------
# llvm-mca: cycles per execution of each hot block (cached per CPU model and block bytes).
MCA_CACHE = CACHE / "mca" / f"{CORE['mca']}.json"
_mca = json.loads(MCA_CACHE.read_text()) if MCA_CACHE.exists() else {}
SKIP = re.compile(r"^\s*(svc|hvc|smc|brk|hlt|mrs|msr|sys|sysl|dmb|dsb|isb|yield|wfe|wfi|sev|sevl|hint|clrex|"
                  r"at|dc|ic|tlbi|udf|autia|autib|pacia|pacib|xpaclri|bti|\.inst|<unknown>)\b")


def disassemble(blocks):
    """blocks: list of insn-hex strings ("d503201f:91000400..."); returns lists of assembly lines (None = failed)."""
    if CPU == "haswell":
        return [None] * len(blocks)
    text = []
    for b in blocks:
        for w in b.split(":"):
            v = int(w, 16)
            text.append(" ".join(f"0x{(v >> (8 * i)) & 0xff:02x}" for i in range(4)))
    r = subprocess.run([MC, "--disassemble", "-triple=aarch64-linux-gnu", "-mcpu=neoverse-n1",
                        "-mattr=+dotprod,+rcpc,+fullfp16,+lse,+crc,+aes,+sha2"], input="\n".join(text),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [l.strip() for l in r.stdout.splitlines() if l.strip() and not l.strip().startswith(".text")]
    out, i = [], 0
    total = sum(len(b.split(":")) for b in blocks)
    if len(lines) != total:  # an undecodable word somewhere: one block at a time
        res = []
        for b in blocks:
            sub = disassemble_one(b)
            res.append(sub)
        return res
    for b in blocks:
        n = len(b.split(":"))
        out.append(lines[i:i + n])
        i += n
    return out


def disassemble_one(b):
    text = "\n".join(" ".join(f"0x{(int(w, 16) >> (8 * i)) & 0xff:02x}" for i in range(4)) for w in b.split(":"))
    r = subprocess.run([MC, "--disassemble", "-triple=aarch64-linux-gnu", "-mcpu=neoverse-n1",
                        "-mattr=+dotprod,+rcpc,+fullfp16,+lse,+crc,+aes,+sha2"], input=text,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [l.strip() for l in r.stdout.splitlines() if l.strip() and not l.strip().startswith(".text")]
    return lines if len(lines) == len(b.split(":")) else None


def mca_cycles(blocks):
    """{insn-hex: cycles per execution} for the blocks (llvm-mca, 100 iterations of each block as a region)."""
    todo = [b for b in blocks if b not in _mca]
    if todo:
        asm = disassemble(todo)
        regions = []
        for b, lines in zip(todo, asm):
            if lines is None:
                _mca[b] = float(len(b.split(":")))  # not modelled: 1 instruction/cycle
                continue
            keep = [l.split("//")[0].strip() for l in lines if not SKIP.match(l)]
            skipped = len(lines) - len(keep)
            regions.append((b, keep, skipped))
        for start in range(0, len(regions), 400):
            chunk = regions[start:start + 400]
            run_mca_chunk(chunk)
        MCA_CACHE.parent.mkdir(parents=True, exist_ok=True)
        tmp = str(MCA_CACHE) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(_mca, f)
        os.replace(tmp, MCA_CACHE)
    return {b: _mca[b] for b in blocks}


def run_mca_chunk(chunk):
    """llvm-mca on many blocks at once (one region each). An instruction llvm-mca rejects is dropped and counted at
    1 cycle; an error that names no line or instruction splits the chunk in halves, down to single blocks."""
    pending = list(chunk)
    bad_lines = set()
    for attempt in range(50):
        src, idx = [], []
        for j, (b, keep, skipped) in enumerate(pending):
            body = [l for l in keep if l not in bad_lines]
            if not body:
                _mca[b] = float(skipped + len(keep))
                continue
            src.append(f"# LLVM-MCA-BEGIN r{j}")
            src.extend(body)
            src.append("# LLVM-MCA-END")
            idx.append((j, b, skipped + (len(keep) - len(body))))
        if not idx:
            return
        r = subprocess.run([MCA, "-mtriple=aarch64-linux-gnu", f"-mcpu={CORE['mca']}", "-mattr=+dotprod",
                            "-iterations=100", "-instruction-info=false", "-resource-pressure=false", "-"],
                           input="\n".join(src) + "\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            m = re.search(r"<stdin>:(\d+):\d+: error", r.stderr)
            note = re.search(r"note: instruction:\s+(.*)", r.stderr)
            if m and 0 < int(m.group(1)) <= len(src):
                bad_lines.add(src[int(m.group(1)) - 1])
                continue
            if note:
                text = note.group(1).strip()
                hit = [l for l in src if not l.startswith("#") and " ".join(l.split()) == " ".join(text.split())]
                if hit:
                    bad_lines.update(hit)
                    continue
                mn = text.split()[0]
                hit = [l for l in src if not l.startswith("#") and l.split()[0] == mn]
                if hit:
                    bad_lines.update(hit)
                    continue
            if len(pending) > 1:
                half = len(pending) // 2
                run_mca_chunk(pending[:half])
                run_mca_chunk(pending[half:])
                return
            for j, b, skipped in idx:
                _mca[b] = float(len(b.split(":")))
            return
        cyc = {}
        for m in re.finditer(r"\[\d+\] Code Region - r(\d+)\s+Iterations:\s+(\d+)\s+Instructions:\s+\d+\s+"
                             r"Total Cycles:\s+(\d+)", r.stdout):
            cyc[int(m.group(1))] = int(m.group(3)) / int(m.group(2))
        for j, b, skipped in idx:
            # Skipped (system/barrier) instructions at 1 cycle each.
            _mca[b] = cyc.get(j, float(len(b.split(":")))) + skipped
        return
    for b, keep, skipped in pending:
        _mca.setdefault(b, float(len(b.split(":"))))


# ---------------------------------------------------------------------------------------------------------------
def analyse(runtime, per_tb, prof_b, threads):
    """Per-inference figures from the per-TB differences."""
    insns = sum(t["counts"].sum() * len(t["insns"].split(":")) for t in per_tb.values())
    # Hot blocks: those that make 99.5 % of the instructions get llvm-mca; the rest run at 1 instruction/cycle.
    order = sorted(per_tb.items(), key=lambda kv: -kv[1]["counts"].sum() * len(kv[1]["insns"].split(":")))
    hot, acc = [], 0.0
    for key, t in order:
        if acc >= 0.995 * insns:
            break
        hot.append(t["insns"])
        acc += t["counts"].sum() * len(t["insns"].split(":"))
    cyc = mca_cycles(sorted(set(hot)))
    pen = CORE["penalty"]
    by_sym, by_sym_insn = {}, {}
    cycles_v = {}
    total_cyc = 0.0
    miss = np.zeros(3)
    for key, t in per_tb.items():
        n = len(t["insns"].split(":"))
        c = cyc.get(t["insns"], float(n))
        execs = t["counts"].sum()
        sym = symbolize(key[0], prof_b["maps"])
        if sym[0].endswith(":unnamed"):
            sym = (f"{sym[1]}: unnamed {block_kind(t['insns'])}", sym[1], sym[2])
        by_sym[sym] = by_sym.get(sym, 0.0) + execs * c
        by_sym_insn[sym] = by_sym_insn.get(sym, 0.0) + execs * n
        total_cyc += execs * c
        miss += t["miss"]
        for v, cv in enumerate(t["counts"]):
            cycles_v[v] = cycles_v.get(v, 0.0) + cv * c
    l1m, l2m, l3m = miss
    if CORE["l3"]:
        penalty = (l1m - l2m) * pen["l1_miss_l2_hit"] + l2m * pen["l2_miss"] + l3m * pen["l3_miss"]
    else:
        penalty = (l1m - l2m) * pen["l1_miss_l2_hit"] + l2m * pen["l2_miss"]
    return dict(instructions=insns, cycles=total_cyc, penalty=penalty, misses=miss, by_sym=by_sym,
                by_sym_insn=by_sym_insn, cycles_v=cycles_v, hot_blocks=len(hot))


def critical_path(prof, cpi):
    """Sum over segments of the busiest thread's work (instructions, and cycles at each thread's modelled CPI)."""
    insn = cyc = 0.0
    for s in prof["segs"]:
        insn += max(s)
        cyc += max(d * cpi.get(v, 1.0) for v, d in enumerate(s))
    return insn, cyc, len(prof["segs"])


def main():
    t_start = float(E["BE_START"])
    m = prepare_model()
    tfl, tfl_reason = (None, None)
    if "litert" in RUNTIMES:
        tfl, tfl_reason = tflite_model(m)
    doc = {"cpu": CPU, "model": m["name"], "macs": m["macs"], "runtimes": {}}
    n1, n2 = RUNS, RUNS + EXTRA
    results, seconds = {}, {}
    for runtime in RUNTIMES:
        if runtime == "litert" and tfl is None:
            doc["runtimes"][runtime] = {"error": f"not run: the model could not be converted for LiteRT: {tfl_reason}"}
            continue
        entry = {}
        log(f"{runtime}: {n1} and {n2} inferences, 1 thread{', cache model' if CACHE_MODEL else ''}")
        pa, ra, sa = run_one(runtime, m, tfl, 1, n1, CACHE_MODEL)
        pb, rb, sb = run_one(runtime, m, tfl, 1, n2, CACHE_MODEL) if pa else (None, ra, 0)
        seconds[runtime] = {"1": [round(sa, 1), round(sb, 1)]}
        if pa is None or pb is None:
            doc["runtimes"][runtime] = {"error": f"not run: {ra if pa is None else rb}"}
            continue
        A, B = parse_prof(pa), parse_prof(pb)
        nv = max(len(B["vcpu"]), 1)
        per_tb = diff_tbs(A, B, EXTRA, nv)
        an = analyse(runtime, per_tb, B, 1)
        entry["instructions"] = int(round(an["instructions"]))
        entry["modelled_cycles_no_cache"] = int(round(an["cycles"]))
        entry["modelled_cycles"] = int(round(an["cycles"] + an["penalty"])) if CACHE_MODEL else None
        entry["cache_misses_per_inference"] = {"l1d": int(an["misses"][0]), "l2": int(an["misses"][1]),
                                               "l3": int(an["misses"][2])} if CACHE_MODEL else None
        names = demangle(s[0] for s in an["by_sym"])
        tot = an["cycles"]
        top = sorted(an["by_sym"].items(), key=lambda kv: -kv[1])[:8]
        entry["kernels"] = {f"{names[s[0]]} [{s[1]}]": round(v / tot, 4) for s, v in top}
        entry["kernels_share_of"] = "modelled cycles without cache"
        itot = an["instructions"]
        entry["kernels_instruction_share"] = {f"{names[s[0]]} [{s[1]}]": round(an["by_sym_insn"][s] / itot, 4)
                                              for s, _ in top}
        entry["symbol_tables"] = sorted({f"{os.path.basename(p)}: {elf_info(p)['table'] or 'none'}"
                                         for s, v in top for (lo, hi, off, p) in B["maps"] if os.path.basename(p) == s[1]})
        entry["top1"] = rb["top1"]
        entry["logits"] = rb["logits"]
        entry["hot_blocks_modelled"] = an["hot_blocks"]
        entry["percent_of_mac_peak"] = round(100 * m["macs"] / (entry["modelled_cycles"] or entry["modelled_cycles_no_cache"])
                                             / CORE["peak"], 1)
        entry["percent_of_mac_peak_no_cache"] = round(100 * m["macs"] / entry["modelled_cycles_no_cache"] / CORE["peak"], 1)
        entry["threads"], entry["threads_detail"] = {}, {}
        for t in THREADS:
            log(f"{runtime}: {n1} and {n2} inferences, {t} threads")
            qa, xa, s1 = run_one(runtime, m, tfl, t, n1, False)
            qb, xb, s2 = run_one(runtime, m, tfl, t, n2, False) if qa else (None, xa, 0)
            seconds[runtime][str(t)] = [round(s1, 1), round(s2, 1)]
            if qa is None or qb is None:
                entry["threads"][str(t)] = None
                entry["threads_detail"][str(t)] = {"error": xa if qa is None else xb}
                continue
            TA, TB = parse_prof(qa), parse_prof(qb)
            nvt = max(len(TB["vcpu"]), 1)
            ptb = diff_tbs(TA, TB, EXTRA, nvt)
            at = analyse(runtime, ptb, TB, t)
            insn_v = {}
            for key, tb in ptb.items():
                n = len(tb["insns"].split(":"))
                for v, cv in enumerate(tb["counts"]):
                    insn_v[v] = insn_v.get(v, 0.0) + cv * n
            cpi = {v: (at["cycles_v"][v] / insn_v[v]) if insn_v.get(v) else 1.0 for v in at["cycles_v"]}
            ca_i, ca_c, na = critical_path(TA, cpi)
            cb_i, cb_c, nb = critical_path(TB, cpi)
            crit_cycles = (cb_c - ca_c) / EXTRA
            crit_insn = (cb_i - ca_i) / EXTRA
            work = {v: (TB["vcpu"][v]["work"] - TA["vcpu"].get(v, {"work": 0})["work"]) / EXTRA for v in TB["vcpu"]}
            wait = {v: (TB["vcpu"][v]["wait"] - TA["vcpu"].get(v, {"wait": 0})["wait"]) / EXTRA for v in TB["vcpu"]}
            entry["threads"][str(t)] = int(round(crit_cycles))
            entry["threads_detail"][str(t)] = {
                "critical_path_modelled_cycles": int(round(crit_cycles)),
                "critical_path_instructions": int(round(crit_insn)),
                "segments_per_inference": (nb - na) / EXTRA,
                "work_instructions_per_thread": {str(v): int(w) for v, w in work.items() if w > 0},
                "wait_instructions_per_thread": {str(v): int(w) for v, w in wait.items() if w > 0},
                "all_instructions": int(round(at["instructions"])),
                "modelled_cycles_all_threads": int(round(at["cycles"])),
                "speedup_vs_1_thread": round(entry["modelled_cycles_no_cache"] / crit_cycles, 2) if crit_cycles else None,
                "percent_of_mac_peak": round(100 * m["macs"] / crit_cycles / (t * CORE["peak"]), 1) if crit_cycles else None,
                "top1": xb["top1"],
            }
        doc["runtimes"][runtime] = entry
    # Agreement.
    rt = doc["runtimes"]
    ours, ort = rt.get("resnet-edge", {}), rt.get("onnxruntime", {})
    agreement = {}
    failed = []
    if "logits" in ours and "logits" in ort:
        a, b = np.array(ours["logits"]), np.array(ort["logits"])
        agreement["resnet-edge_vs_onnxruntime"] = {
            "same_top1": ours["top1"] == ort["top1"],
            "max_abs_diff_rel": float(np.abs(a - b).max() / np.abs(b).max()),
            "cosine": float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))}
        if ours["top1"] != ort["top1"]:
            failed.append(f"top-1 differs: resnet-edge {ours['top1']}, onnxruntime {ort['top1']}")
    lt = rt.get("litert", {})
    if "logits" in lt and "logits" in ort:
        a, b = np.array(lt["logits"]), np.array(ort["logits"])
        agreement["litert_vs_onnxruntime"] = {"same_top1": lt["top1"] == ort["top1"],
                                             "max_abs_diff_rel": float(np.abs(a - b).max() / np.abs(b).max()),
                                             "cosine": float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))}
    for e in rt.values():
        for t, d in e.get("threads_detail", {}).items():
            if "top1" in d and "top1" in e and d["top1"] != e["top1"]:
                failed.append(f"top-1 at {t} threads differs from 1 thread")
    doc["agreement"] = agreement
    ratios = {}
    for peer in ("onnxruntime", "litert"):
        p = rt.get(peer, {})
        if "instructions" in ours and "instructions" in p:
            r = {"instructions": round(ours["instructions"] / p["instructions"], 3),
                 "modelled_cycles_no_cache": round(ours["modelled_cycles_no_cache"] / p["modelled_cycles_no_cache"], 3)}
            if ours.get("modelled_cycles") and p.get("modelled_cycles"):
                r["modelled_cycles"] = round(ours["modelled_cycles"] / p["modelled_cycles"], 3)
            for t in THREADS:
                if ours["threads"].get(str(t)) and p["threads"].get(str(t)):
                    r[f"threads_{t}"] = round(ours["threads"][str(t)] / p["threads"][str(t)], 3)
            ratios[f"resnet-edge/{peer}"] = r
    doc["ratios"] = ratios
    doc["method"] = {
        "per_inference": f"(run of {n2} inferences - run of {n1}) / {EXTRA}, same process setup, start-up and model "
                         "loading excluded",
        "qemu": f"qemu-aarch64 {E['BE_QEMU_VERSION']} -cpu {CPU}, plugin benchprof",
        "llvm_mca": f"{MCA} -mcpu={CORE['mca']}, 100 iterations per block; blocks with 99.5 % of the instructions "
                    "modelled, the rest at 1 instruction/cycle; system/barrier instructions at 1 cycle",
        "cache": {"l1d": CORE["l1"], "l2": CORE["l2"], "l3": CORE["l3"], "line": 64, "replacement": "LRU",
                  "penalties_cycles": CORE["penalty"], "penalty_note": CORE["penalty_note"],
                  "not_modelled": "instruction cache, TLBs, hardware prefetch, overlap of misses with other work"}
        if CACHE_MODEL else None,
        "threads": "critical path = sum over segments of the busiest thread's work instructions x that thread's "
                   "modelled cycles per instruction; a segment ends when the calling thread resumes after waiting "
                   "(spin/futex) for its workers; spinning and blocked instructions excluded",
        "mac_peak_per_cycle": CORE["peak"], "board": CORE["board"],
    }
    doc["seconds"] = {"qemu_runs": seconds, "total": round(time.time() - t_start, 1)}
    # Output.
    print_table(doc)
    if E.get("BE_JSON"):
        slim = json.loads(json.dumps(doc))
        Path(E["BE_JSON"]).parent.mkdir(parents=True, exist_ok=True)
        Path(E["BE_JSON"]).write_text(json.dumps(slim, indent=1))
        log(f"wrote {E['BE_JSON']}")
    if CHECK:
        ag = agreement.get("resnet-edge_vs_onnxruntime")
        if not ag:
            failed.append("check: no result for resnet-edge and onnxruntime")
        elif ag["max_abs_diff_rel"] > 0.05:
            failed.append(f"check: logits differ by {ag['max_abs_diff_rel']:.3f} of max|logit| (limit 0.05)")
    if failed:
        for f in failed:
            log("FAIL: " + f)
        sys.exit(1)
    if CHECK:
        print("check passed: resnet-edge and onnxruntime agree under qemu " + CPU)


def fmt(v, unit=1e6, suffix="M"):
    return "-" if v is None else f"{v / unit:,.1f}{suffix}"


def print_table(doc):
    rt = doc["runtimes"]
    print(f"\n{doc['model']} ({doc['macs'] / 1e9:.3f} GMAC) on qemu -cpu {doc['cpu']} ({CORE['board']} model; "
          f"llvm-mca -mcpu={CORE['mca']}), per inference")
    hdr = ["runtime", "instructions", "cycles no cache", "cycles w/ cache", "% MAC peak", "top-1"] + \
          [f"{t} thr crit. cycles" for t in THREADS]
    rows = []
    for name, e in rt.items():
        if "error" in e:
            rows.append([name, e["error"]] + [""] * (len(hdr) - 2))
            continue
        rows.append([name, fmt(e["instructions"]), fmt(e["modelled_cycles_no_cache"]), fmt(e.get("modelled_cycles")),
                     f"{e['percent_of_mac_peak']}%", str(e["top1"])] +
                    [fmt(e["threads"].get(str(t))) for t in THREADS])
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    for r in [hdr, ["-" * x for x in w]] + rows:
        if len(r) > 2 and r[2] == "" and r[1].startswith("not run"):
            print("  " + r[0].ljust(w[0]) + "  " + r[1])
            continue
        print("  " + "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(r)))
    for k, r in doc["ratios"].items():
        print(f"  {k}: " + ", ".join(f"{a} {b:.2f}x" for a, b in r.items()))
    for k, a in doc["agreement"].items():
        print(f"  {k}: same top-1 {a['same_top1']}, max|diff|/max|logit| {a['max_abs_diff_rel']:.4f}, "
              f"cosine {a['cosine']:.5f}")
    for name, e in rt.items():
        if "kernels" not in e:
            continue
        print(f"  {name} top kernels (share of modelled cycles without cache):")
        for k, v in list(e["kernels"].items())[:6]:
            print(f"    {100 * v:5.1f}%  {k}")
        for t, d in e["threads_detail"].items():
            if "critical_path_instructions" in d:
                print(f"    {t} threads: critical path {fmt(d['critical_path_modelled_cycles'])} cycles "
                      f"({fmt(d['critical_path_instructions'])} instr., {d['segments_per_inference']:.0f} segments), "
                      f"speed-up {d['speedup_vs_1_thread']}x, work per thread "
                      + "/".join(fmt(v) for v in d["work_instructions_per_thread"].values()))
            else:
                print(f"    {t} threads: {d.get('error')}")
    print(f"  seconds: {doc['seconds']}")


if __name__ == "__main__":
    main()
