// benchprof: a QEMU TCG plugin for scripts/bench-emulated.sh. In one pass over a (possibly multi-threaded) guest:
//   1. executed instructions per translation block (TB) and per guest thread (vCPU index: qemu-user gives every
//      guest thread its own), with each TB's address and instruction bytes, so that the caller can model each hot
//      block with llvm-mca and map it to a symbol of the file it lies in;
//   2. optionally (cache=1) a data-cache model in the style of qemu's contrib/plugins/cache.c (set-associative,
//      LRU): per-vCPU L1D, an L2 that is shared or per vCPU, an optional shared L3; misses are counted per TB;
//   3. the split of every thread's instructions into "work" and "wait" (spinning or blocked), and the segments
//      between the calling thread's synchronisation points, from which the caller computes a critical path.
//
// Built against qemu-plugin.h of the qemu-user that runs it (bookworm: qemu 7.2, plugin API 1), no glib:
//   gcc -shared -fPIC -O2 -I<dir with qemu-plugin.h> benchprof.c -o libbenchprof.so -lpthread
//   qemu-aarch64 -cpu cortex-a72 -plugin ./libbenchprof.so,out=prof.txt[,cache=1,l1=32768:2,l2=1048576:16:shared,
//       l3=0:0,line=64] ./binary ARGS
//
// Work and wait. A thread is WAITING from a TB that polls (contains YIELD/WFE/WFI, or a load-acquire/exclusive
// load and no store: the shape of every spin-wait loop on an atomic flag) or from a blocking system call (futex
// wait, sched_yield, nanosleep, ppoll/pselect/epoll_pwait) until it executes a TB that stores (any store
// instruction): the polling loop does not store, the work after it does. WAITING instructions are counted as
// "wait", the rest as "work". A segment ends each time vCPU 0 (the thread that runs the inference and waits for
// its workers at the end of every parallel step) goes from WAITING to WORKING: the work each thread did in the
// segment is written out (S lines). With a barrier at the end of each parallel step (all three runtimes have
// one), a segment is one step (plus the serial code after it), so sum over segments of the busiest thread's work
// is the critical path. A spurious segment end inside serial code changes nothing (only vCPU 0 works there).
//
// Output (out=PATH), one record a line:
//   G <guest_base hex>                      host address - guest address of guest memory
//   V <vcpu> <total> <work> <wait>          instructions per vCPU
//   S <d0> <d1> ... <dN-1>                  work instructions of each vCPU in one segment
//   C <level> <accesses> <misses>           data-cache totals (cache=1)
//   T <vaddr hex> <n insns> <flags> <l1 misses> <l2 misses> <l3 misses> <count vcpu0> ... | <insn hex>:<insn hex>...
//   M <guest start hex> <guest end hex> <file offset hex> <path>   file mappings (host /proc/self/maps, converted)
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAXV 16           // vCPU indexes at or above MAXV-1 share the last slot
#define F_STORE 1
#define F_POLL 2

typedef struct tbrec {
  uint64_t vaddr;
  uint32_t n, flags, nbytes;
  uint64_t miss[3];
  uint64_t count[MAXV];
  uint8_t* bytes;         // instruction bytes
  uint8_t* sizes;         // per-instruction sizes
  struct tbrec* next;     // hash chain
} tbrec;

typedef struct {
  uint64_t total, work, wait;
  int waiting;
  char pad[64 - 3 * 8 - sizeof(int)];
} vstate;

typedef struct {
  uint64_t* tags;   // line + 1, 0 = invalid
  uint64_t* stamp;
  uint64_t nsets, assoc, clock, accesses, misses;
} cache_t;

static const char* out_path = NULL;
static int is_aarch64 = 1;
static int cache_on = 0;
static uint64_t l1_size = 32768, l1_assoc = 2, l2_size = 1048576, l2_assoc = 16, l3_size = 0, l3_assoc = 0;
static int l2_shared = 1;
static int line_shift = 6;

static pthread_mutex_t tb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static tbrec** tb_table;
static size_t tb_cap = 1 << 20;
static int64_t guest_base = 0;
static int have_base = 0;
static volatile int max_vcpu = 0;
static vstate vs[MAXV];

static cache_t l1[MAXV], l2[MAXV], l3;

// Segments (written by vCPU 0 only).
static uint64_t last_work[MAXV];
static uint64_t* segs = NULL;
static size_t nsegs = 0, segs_cap = 0;

static void cache_init(cache_t* c, uint64_t size, uint64_t assoc) {
  memset(c, 0, sizeof(*c));
  if (size == 0 || assoc == 0) return;
  uint64_t lines = size >> line_shift;
  c->assoc = assoc;
  c->nsets = lines / assoc;
  if (c->nsets == 0 || (c->nsets & (c->nsets - 1)) != 0) {
    fprintf(stderr, "benchprof: cache of %llu bytes, %llu-way: sets must be a power of two\n",
            (unsigned long long) size, (unsigned long long) assoc);
    exit(1);
  }
  c->tags = calloc(lines, sizeof(uint64_t));
  c->stamp = calloc(lines, sizeof(uint64_t));
  if (!c->tags || !c->stamp) abort();
}

// Returns 1 on a hit. LRU replacement.
static int cache_access(cache_t* c, uint64_t line) {
  uint64_t* t = c->tags + (line & (c->nsets - 1)) * c->assoc;
  uint64_t* s = c->stamp + (line & (c->nsets - 1)) * c->assoc;
  c->accesses++;
  c->clock++;
  uint64_t victim = 0;
  for (uint64_t i = 0; i < c->assoc; i++) {
    if (t[i] == line + 1) {
      s[i] = c->clock;
      return 1;
    }
    if (s[i] < s[victim]) victim = i;
  }
  c->misses++;
  t[victim] = line + 1;
  s[victim] = c->clock;
  return 0;
}

static void access_line(unsigned v, uint64_t line, tbrec* t) {
  if (cache_access(&l1[v], line)) return;
  t->miss[0]++;
  cache_t* c2 = l2_shared ? &l2[0] : &l2[v];
  if (c2->nsets == 0 || cache_access(c2, line)) return;
  t->miss[1]++;
  if (l3.nsets == 0 || cache_access(&l3, line)) return;
  t->miss[2]++;
}

static void mem_cb(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void* ud) {
  unsigned v = vcpu < MAXV ? vcpu : MAXV - 1;
  uint64_t size = 1ull << qemu_plugin_mem_size_shift(info);
  uint64_t first = vaddr >> line_shift, last = (vaddr + size - 1) >> line_shift;
  int locked = max_vcpu > 0;
  if (locked) pthread_mutex_lock(&cache_lock);
  access_line(v, first, ud);
  if (last != first) access_line(v, last, ud);
  if (locked) pthread_mutex_unlock(&cache_lock);
}

static void segment_end(void) {
  int nv = max_vcpu + 1;
  if (nv > MAXV) nv = MAXV;
  if (segs_cap < (nsegs + 1) * MAXV) {
    segs_cap = segs_cap ? segs_cap * 2 : 4096 * MAXV;
    segs = realloc(segs, segs_cap * sizeof(uint64_t));
    if (!segs) abort();
  }
  for (int u = 0; u < MAXV; u++) {
    uint64_t w = u < nv ? __atomic_load_n(&vs[u].work, __ATOMIC_RELAXED) : last_work[u];
    segs[nsegs * MAXV + u] = w - last_work[u];
    last_work[u] = w;
  }
  nsegs++;
}

static void tb_exec(unsigned int vcpu, void* ud) {
  tbrec* t = ud;
  unsigned v = vcpu < MAXV ? vcpu : MAXV - 1;
  if ((int) v > max_vcpu) max_vcpu = v;
  t->count[v]++;
  vstate* s = &vs[v];
  int waiting = s->waiting;
  if (t->flags & F_POLL) waiting = 1;
  else if (t->flags & F_STORE) waiting = 0;
  if (waiting != s->waiting) {
    if (v == 0 && !waiting) segment_end();
    s->waiting = waiting;
  }
  s->total += t->n;
  if (waiting) s->wait += t->n;
  else __atomic_store_n(&s->work, s->work + t->n, __ATOMIC_RELAXED);
}

// aarch64 instruction classes (ARM ARM C4.1): which instructions store, which poll.
static int a64_is_store(uint32_t i) {
  if ((i & 0x0a000000) != 0x08000000) return 0;        // not a load/store
  uint32_t b2927 = (i >> 27) & 7;
  if (b2927 == 5) return !((i >> 22) & 1);              // load/store pair (GPR and SIMD)
  if (b2927 == 7) {                                     // load/store register
    uint32_t opc = (i >> 22) & 3, v = (i >> 26) & 1;
    if (!((i >> 24) & 1) && ((i >> 21) & 1) && ((i >> 10) & 3) == 0) {
      return (i & 0x3fbffc00) != 0x38bfc000;            // atomic memory ops store, except LDAPR
    }
    return v ? !(opc & 1) : opc == 0;
  }
  if (b2927 == 1) {
    if ((i >> 26) & 1) return !((i >> 22) & 1);         // SIMD load/store multiple/single structures
    if (((i >> 24) & 0x3f) == 0x08) return !((i >> 22) & 1) || ((i >> 21) & 1);  // exclusive/ordered, CAS
  }
  return 0;
}

static int a64_is_poll(uint32_t i) {
  if (i == 0xd503203f || i == 0xd503205f || i == 0xd503207f) return 1;  // YIELD, WFE, WFI
  if (((i >> 24) & 0x3f) == 0x08 && ((i >> 22) & 1) && !((i >> 21) & 1)) return 1;  // LDXR/LDAXR/LDAR (load)
  if ((i & 0x3fbffc00) == 0x38bfc000) return 1;         // LDAPR
  return 0;
}

static uint64_t tb_hash(uint64_t vaddr, uint32_t n) {
  return ((vaddr * 0x9E3779B97F4A7C15ull) ^ (n * 0xff51afd7ed558ccdull)) >> 40;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void) id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  if (n == 0) return;
  const uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
  pthread_mutex_lock(&tb_lock);
  if (!have_base) {
    struct qemu_plugin_insn* i0 = qemu_plugin_tb_get_insn(tb, 0);
    guest_base = (int64_t) ((uintptr_t) qemu_plugin_insn_haddr(i0) - qemu_plugin_insn_vaddr(i0));
    have_base = 1;
  }
  size_t h = tb_hash(vaddr, n) & (tb_cap - 1);
  tbrec* t = tb_table[h];
  size_t nbytes = 0;
  for (size_t k = 0; k < n; k++) nbytes += qemu_plugin_insn_size(qemu_plugin_tb_get_insn(tb, k));
  for (; t; t = t->next) {
    if (t->vaddr == vaddr && t->n == n && t->nbytes == nbytes) break;
  }
  if (!t) {
    t = calloc(1, sizeof(tbrec));
    t->bytes = malloc(nbytes);
    t->sizes = malloc(n);
    if (!t || !t->bytes || !t->sizes) abort();
    t->vaddr = vaddr;
    t->n = n;
    t->nbytes = nbytes;
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
      struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, k);
      size_t sz = qemu_plugin_insn_size(insn);
      memcpy(t->bytes + off, qemu_plugin_insn_data(insn), sz);
      t->sizes[k] = sz;
      if (is_aarch64 && sz == 4) {
        uint32_t w;
        memcpy(&w, t->bytes + off, 4);
        if (a64_is_store(w)) t->flags |= F_STORE;
        if (a64_is_poll(w)) t->flags |= F_POLL;
      }
      off += sz;
    }
    if (t->flags & F_STORE) t->flags &= ~F_POLL;        // a TB that stores is work (YIELD excepted, below)
    for (size_t k = 0, o = 0; is_aarch64 && k < n; o += t->sizes[k], k++) {
      uint32_t w;
      memcpy(&w, t->bytes + o, 4);
      if (w == 0xd503203f || w == 0xd503205f) { t->flags = F_POLL; break; }
    }
    t->next = tb_table[h];
    tb_table[h] = t;
  }
  pthread_mutex_unlock(&tb_lock);
  qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, t);
  if (cache_on) {
    for (size_t k = 0; k < n; k++) {
      qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, k), mem_cb, QEMU_PLUGIN_CB_NO_REGS,
                                       QEMU_PLUGIN_MEM_RW, t);
    }
  }
}

static void syscall_cb(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8) {
  (void) id; (void) a1; (void) a3; (void) a4; (void) a5; (void) a6; (void) a7; (void) a8;
  unsigned v = vcpu < MAXV ? vcpu : MAXV - 1;
  int blocking;
  if (is_aarch64) {  // asm-generic numbers
    int op = (int) (a2 & 0x7f);
    blocking = (num == 98 && (op == 0 || op == 9 || op == 6 || op == 11)) || num == 124 || num == 101 ||
               num == 115 || num == 73 || num == 72 || num == 22;
  } else {           // x86_64
    int op = (int) (a2 & 0x7f);
    blocking = (num == 202 && (op == 0 || op == 9 || op == 6 || op == 11)) || num == 24 || num == 35 ||
               num == 230 || num == 271 || num == 270 || num == 281 || num == 7 || num == 23;
  }
  if (blocking) vs[v].waiting = 1;
}

static void at_exit(qemu_plugin_id_t id, void* userdata) {
  (void) id; (void) userdata;
  segment_end();
  FILE* f = fopen(out_path, "w");
  if (!f) { perror(out_path); return; }
  int nv = max_vcpu + 1;
  if (nv > MAXV) nv = MAXV;
  fprintf(f, "G %llx\n", (unsigned long long) guest_base);
  for (int v = 0; v < nv; v++) {
    fprintf(f, "V %d %llu %llu %llu\n", v, (unsigned long long) vs[v].total, (unsigned long long) vs[v].work,
            (unsigned long long) vs[v].wait);
  }
  for (size_t s = 0; s < nsegs; s++) {
    fputc('S', f);
    for (int v = 0; v < nv; v++) fprintf(f, " %llu", (unsigned long long) segs[s * MAXV + v]);
    fputc('\n', f);
  }
  if (cache_on) {
    uint64_t a[3] = {0}, m[3] = {0};
    for (int v = 0; v < MAXV; v++) {
      a[0] += l1[v].accesses; m[0] += l1[v].misses;
      a[1] += l2[v].accesses; m[1] += l2[v].misses;
    }
    a[2] = l3.accesses; m[2] = l3.misses;
    for (int k = 0; k < 3; k++) fprintf(f, "C %d %llu %llu\n", k + 1, (unsigned long long) a[k], (unsigned long long) m[k]);
  }
  for (size_t h = 0; h < tb_cap; h++) {
    for (tbrec* t = tb_table[h]; t; t = t->next) {
      uint64_t c = 0;
      for (int v = 0; v < MAXV; v++) c += t->count[v];
      if (c == 0) continue;
      fprintf(f, "T %llx %u %u %llu %llu %llu", (unsigned long long) t->vaddr, t->n, t->flags,
              (unsigned long long) t->miss[0], (unsigned long long) t->miss[1], (unsigned long long) t->miss[2]);
      for (int v = 0; v < nv; v++) fprintf(f, " %llu", (unsigned long long) t->count[v]);
      fputs(" |", f);
      for (uint32_t k = 0, o = 0; k < t->n; o += t->sizes[k], k++) {
        fputc(k ? ':' : ' ', f);
        for (int b = t->sizes[k] - 1; b >= 0; b--) fprintf(f, "%02x", t->bytes[o + b]);  // little-endian word
      }
      fputc('\n', f);
    }
  }
  // File mappings of the guest: the host's own maps, shifted by guest_base (qemu-user maps guest memory there).
  FILE* m = fopen("/proc/self/maps", "r");
  char line[4096];
  while (m && fgets(line, sizeof(line), m)) {
    unsigned long long lo, hi, off;
    char perms[8], path[3072] = "";
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %3071[^\n]", &lo, &hi, perms, &off, path) < 4) continue;
    if (path[0] != '/' || (int64_t) lo < guest_base) continue;
    fprintf(f, "M %llx %llx %llx %s %s\n", (unsigned long long) (lo - guest_base), (unsigned long long) (hi - guest_base),
            off, perms, path);
  }
  if (m) fclose(m);
  fclose(f);
}

static int parse_size_assoc(const char* s, uint64_t* size, uint64_t* assoc, int* shared) {
  char mode[16] = "";
  unsigned long long a = 0, b = 0;
  int k = sscanf(s, "%llu:%llu:%15s", &a, &b, mode);
  if (k < 2) return -1;
  *size = a;
  *assoc = b;
  if (shared && k == 3) *shared = strcmp(mode, "shared") == 0;
  return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc, char** argv) {
  is_aarch64 = strcmp(info->target_name, "aarch64") == 0;
  for (int i = 0; i < argc; i++) {
    const char* a = argv[i];
    int bad = 0;
    if (strncmp(a, "out=", 4) == 0) out_path = a + 4;
    else if (strncmp(a, "cache=", 6) == 0) cache_on = atoi(a + 6);
    else if (strncmp(a, "l1=", 3) == 0) bad = parse_size_assoc(a + 3, &l1_size, &l1_assoc, NULL);
    else if (strncmp(a, "l2=", 3) == 0) bad = parse_size_assoc(a + 3, &l2_size, &l2_assoc, &l2_shared);
    else if (strncmp(a, "l3=", 3) == 0) bad = parse_size_assoc(a + 3, &l3_size, &l3_assoc, NULL);
    else if (strncmp(a, "line=", 5) == 0) line_shift = __builtin_ctz(atoi(a + 5));
    else bad = 1;
    if (bad) {
      fprintf(stderr, "benchprof: bad argument '%s' (out=PATH cache=0|1 l1=SIZE:WAYS l2=SIZE:WAYS:shared|private "
                      "l3=SIZE:WAYS line=BYTES)\n", a);
      return -1;
    }
  }
  if (!out_path) { fprintf(stderr, "benchprof: out=PATH is required\n"); return -1; }
  tb_table = calloc(tb_cap, sizeof(tbrec*));
  if (!tb_table) abort();
  if (cache_on) {
    for (int v = 0; v < MAXV; v++) {
      cache_init(&l1[v], l1_size, l1_assoc);
      if (v == 0 || !l2_shared) cache_init(&l2[v], l2_size, l2_assoc);
    }
    cache_init(&l3, l3_size, l3_assoc);
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
  qemu_plugin_register_vcpu_syscall_cb(id, syscall_cb);
  qemu_plugin_register_atexit_cb(id, at_exit, NULL);
  return 0;
}
