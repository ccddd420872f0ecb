// symcount: a QEMU TCG plugin that counts executed guest instructions per ELF symbol.
//
// Built against qemu-plugin.h of the qemu-user that runs it (bookworm: qemu 7.2, plugin API 1; the header comes
// from `apt-get source qemu`, see scripts/kernel-peak-aarch64.sh). It needs no glib:
//
//   gcc -shared -fPIC -O2 -I<dir with qemu-plugin.h> symcount.c -o libsymcount.so
//   qemu-aarch64 -cpu cortex-a76 -plugin ./libsymcount.so,filter=ck_,out=counts.txt ./binary ARGS
//
// Arguments (comma separated after the .so, as qemu passes them):
//   filter=PREFIX  count only symbols whose name starts with PREFIX (repeatable; none = every symbol)
//   out=PATH       write the table to PATH (default: qemu's plugin log, i.e. -d plugin [-D FILE])
//
// Output: one line per symbol with a non-zero count, "<count> <symbol>", sorted by count, then a line
// "<count> <total>" with every executed guest instruction (all symbols, also unnamed code).
//
// How it counts: at translation time the instructions of a translation block are grouped into runs of
// consecutive instructions with the same symbol (qemu_plugin_insn_symbol, which reads the main executable's
// symtab: the binary must not be stripped; static or non-PIE binaries are simplest). One inline
// "add n" is attached to the first instruction of each run, so the counters cost one memory add per run and
// no helper call. A translation block runs to its end unless the guest faults inside it, which a benchmark
// driver does not do, so the counts are exact and repeatable. Counters are plain (not atomic) 64-bit
// integers: use it on single-threaded guests.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

typedef struct entry {
  char* name;
  uint64_t count;
} entry;

#define MAX_FILTERS 16
static const char* filters[MAX_FILTERS];
static int n_filters = 0;
static const char* out_path = NULL;

// Open-addressing table keyed by the symbol string. Entries are allocated once and never move, so the
// address of an entry's counter can be baked into translated code.
static entry** table = NULL;
static size_t table_cap = 0, table_len = 0;
static uint64_t total_insns = 0;

static uint64_t hash_str(const char* s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (; *s; s++) h = (h ^ (unsigned char) *s) * 1099511628211ULL;
  return h;
}

static void table_grow(void) {
  const size_t cap = table_cap ? table_cap * 2 : 1024;
  entry** t = calloc(cap, sizeof(entry*));
  if (t == NULL) abort();
  for (size_t i = 0; i < table_cap; i++) {
    if (table[i] == NULL) continue;
    size_t j = hash_str(table[i]->name) & (cap - 1);
    while (t[j] != NULL) j = (j + 1) & (cap - 1);
    t[j] = table[i];
  }
  free(table);
  table = t;
  table_cap = cap;
}

static entry* lookup(const char* name) {
  if (2 * (table_len + 1) > table_cap) table_grow();
  size_t j = hash_str(name) & (table_cap - 1);
  while (table[j] != NULL) {
    if (strcmp(table[j]->name, name) == 0) return table[j];
    j = (j + 1) & (table_cap - 1);
  }
  entry* e = calloc(1, sizeof(entry));
  if (e == NULL) abort();
  e->name = strdup(name);
  table[j] = e;
  table_len++;
  return e;
}

static int wanted(const char* name) {
  if (name == NULL || name[0] == '\0') return 0;
  if (n_filters == 0) return 1;
  for (int i = 0; i < n_filters; i++) {
    if (strncmp(name, filters[i], strlen(filters[i])) == 0) return 1;
  }
  return 0;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void) id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  if (n == 0) return;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total_insns, n);
  size_t i = 0;
  while (i < n) {
    struct qemu_plugin_insn* first = qemu_plugin_tb_get_insn(tb, i);
    const char* sym = qemu_plugin_insn_symbol(first);
    size_t j = i + 1;
    while (j < n) {
      const char* s = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, j));
      if (s != sym && (s == NULL || sym == NULL || strcmp(s, sym) != 0)) break;
      j++;
    }
    if (wanted(sym)) {
      entry* e = lookup(sym);
      qemu_plugin_register_vcpu_insn_exec_inline(first, QEMU_PLUGIN_INLINE_ADD_U64, &e->count, j - i);
    }
    i = j;
  }
}

static int by_count_desc(const void* a, const void* b) {
  const entry* x = *(const entry* const*) a;
  const entry* y = *(const entry* const*) b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->name, y->name);
}

static void at_exit(qemu_plugin_id_t id, void* userdata) {
  (void) id;
  (void) userdata;
  entry** list = calloc(table_len + 1, sizeof(entry*));
  size_t m = 0;
  for (size_t i = 0; i < table_cap; i++) {
    if (table[i] != NULL && table[i]->count != 0) list[m++] = table[i];
  }
  qsort(list, m, sizeof(entry*), by_count_desc);
  // Each line is built in full first: qemu_plugin_outs takes whole strings.
  FILE* f = out_path ? fopen(out_path, "w") : NULL;
  char line[1024];
  for (size_t i = 0; i <= m; i++) {
    if (i < m) {
      snprintf(line, sizeof(line), "%llu %s\n", (unsigned long long) list[i]->count, list[i]->name);
    } else {
      snprintf(line, sizeof(line), "%llu <total>\n", (unsigned long long) total_insns);
    }
    if (f) fputs(line, f); else qemu_plugin_outs(line);
  }
  if (f) fclose(f);
  free(list);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc, char** argv) {
  (void) info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "filter=", 7) == 0) {
      if (n_filters == MAX_FILTERS) {
        fprintf(stderr, "symcount: at most %d filters\n", MAX_FILTERS);
        return -1;
      }
      filters[n_filters++] = argv[i] + 7;
    } else if (strncmp(argv[i], "out=", 4) == 0) {
      out_path = argv[i] + 4;
    } else {
      fprintf(stderr, "symcount: unknown argument '%s' (filter=PREFIX, out=PATH)\n", argv[i]);
      return -1;
    }
  }
  table_grow();
  qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
  qemu_plugin_register_atexit_cb(id, at_exit, NULL);
  return 0;
}
