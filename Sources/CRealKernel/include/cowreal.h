/* cowreal.h - the real-kernel executor of cowfuzz: shared constants and entry points.
 *
 * One cowfuzz program runs as a tree of real processes (one per model process,
 * created with fork() when the program forks), driven op by op by a supervisor
 * over SOCK_SEQPACKET channels. The same source is compiled into the
 * `CowRealExec` helper that the Swift backend spawns, and is pasted, together
 * with one program as data, into the standalone C files that `cowfuzz export-c`
 * writes. Plain C: libc and the kernel headers only.
 */
#ifndef COWREAL_H
#define COWREAL_H

#include <stdint.h>

/* Op kinds, in the order of CowModel.OpKind (values are this file's own). */
enum {
	CF_OP_MMAP = 1, CF_OP_MUNMAP, CF_OP_MPROTECT, CF_OP_MREMAP, CF_OP_MADVISE,
	CF_OP_WRITE, CF_OP_READ, CF_OP_FORK, CF_OP_EXIT, CF_OP_PIN, CF_OP_UNPIN,
	CF_OP_READPIN, CF_OP_WRITEPIN, CF_OP_VMSPLICE, CF_OP_READPIPE, CF_OP_POKEMEM,
	CF_OP_KSM, CF_OP_MIGRATE, CF_OP_SWAPOUT, CF_OP_SPLITPMD, CF_OP_SPLITTHP,
	CF_OP_RACE, CF_OP_LAST
};

/* mmap backing (cf_op.val) and page size (cf_op.flags). */
enum { CF_BACK_ANON = 0, CF_BACK_SHARED = 1, CF_BACK_FILE = 2 };
enum { CF_HUGE_NONE = 0, CF_HUGE_THP = 1, CF_HUGE_HUGETLB = 2 };

/* madvise advice (cf_op.val). */
enum {
	CF_ADV_DONTNEED = 0, CF_ADV_DONTFORK, CF_ADV_DOFORK, CF_ADV_WIPEONFORK, CF_ADV_HUGEPAGE,
	CF_ADV_NOHUGEPAGE, CF_ADV_COLLAPSE, CF_ADV_PAGEOUT, CF_ADV_MERGEABLE, CF_ADV_UNMERGEABLE,
	CF_ADV_LAST
};

/* pin flags (cf_op.flags), as CowModel.PinFlags. */
enum { CF_PIN_RW = 1, CF_PIN_LONGTERM = 2, CF_PIN_FAST = 4, CF_PIN_GET = 8 };

/* Opt-in tiers that change machine-wide settings. */
enum { CF_TIER_KSM = 1, CF_TIER_SWAP = 2, CF_TIER_HUGETLB = 4 };

/* Why an op did not run: the names are those of CowModel.SkipReason. */
enum {
	CF_R_NONE = 0, CF_R_NOPROCESS, CF_R_PROCESSEXISTS, CF_R_NOREGION, CF_R_REGIONEXISTS,
	CF_R_PAGEOUTOFRANGE, CF_R_PAGENOTMAPPED, CF_R_NOTWRITABLE, CF_R_NOPIN, CF_R_PINEXISTS,
	CF_R_PINNOTWRITABLE, CF_R_NOPIPE, CF_R_PIPEFULL, CF_R_PIPEEMPTY, CF_R_BADRANGE,
	CF_R_NOTSUPPORTEDYET, CF_R_NOTAPPLICABLE, CF_R_REFUSEDBYKERNEL, CF_R_GUPFAILED,
	CF_R_REALUNSUPPORTED, CF_R_TIMEDOUT, CF_R_LAST
};

/* Per-page flags reported by the observer (cf_pstate.flags). */
enum {
	CF_PF_AE = 1 << 0,        /* PageAnonExclusive (kpageflags bit 34; head page of a folio) */
	CF_PF_KSM = 1 << 1,
	CF_PF_THP = 1 << 2,
	CF_PF_ZERO = 1 << 3,
	CF_PF_SWAPCACHE = 1 << 4,
	CF_PF_ANON = 1 << 5,
	CF_PF_HUGETLB = 1 << 6,
	CF_PF_HEAD = 1 << 7,
	CF_PF_TAIL = 1 << 8,
	CF_PF_LRU = 1 << 9,
	CF_PF_PMD = 1 << 10,      /* PMD-mapped (PAGEMAP_SCAN PAGE_IS_HUGE) */
	CF_PF_AE_UNKNOWN = 1 << 11, /* the bit-34 self-test failed: CF_PF_AE means nothing */
	CF_PF_FLAGS_UNKNOWN = 1 << 12 /* /proc/kpageflags unreadable */
};

/* An observation whose page does not hold one value in every byte. */
#define CF_CORRUPT 256
#define CF_MAX_NAMES 64
/* The most ops one program may have; the Swift side checks before sending. */
#define CF_MAX_OPS 100000
/* The helper protocol's version: the first line the helper prints is "V cowfuzz-real N". */
#define CF_PROTOCOL_VERSION 2
#define CF_MAX_PAGES 1024
#define CF_PIPE_DEPTH 16

/* One op over dense names: p process, r region, page index, pages (mmap), arg (the
 * second name: fork child, mremap target region, pin, pipe), val (write value, advice,
 * mprotect writable, mmap backing), from/count (count < 0: the whole region), flags
 * (pin flags, mmap page size). */
struct cf_op {
	int32_t kind, p, r, page, pages, arg, val, from, count, flags;
};

/* A program as data, for the standalone reproducers. accept[i] is the oracle's set of
 * accepted values of observation i (bit v of the 257-bit set, CF_CORRUPT included), or
 * all-zero when the reproducer carries no expectation for it (has_accept[i] == 0). */
struct cf_program {
	const struct cf_op *ops;
	int nops;
	int thp_order; /* @thp-order: huge regions are scaled to 2 MiB pages when below 9 */
	const char *const *texts;
	const uint8_t (*accept)[33];
	const uint8_t *has_accept;
	const char *name;
	/* Per op 'X' (ran) or '-' (did not) where the accepted sets were computed, or NULL. */
	const char *assumed;
};

/* The helper spawned by the Swift backend: reads programs on stdin, writes results on stdout. */
int cf_server_main(int argc, char **argv);
/* The main of a standalone reproducer: runs one program, prints kselftest-style results. */
int cf_standalone_main(const struct cf_program *prog, int argc, char **argv);

/* include/cowreal.h and cowreal.c, verbatim and NUL-terminated, as compiled into this
 * binary (cowsource.c, C23 #embed; absent from a standalone reproducer). */
const char *cf_embedded_header(void);
const char *cf_embedded_implementation(void);

#endif
