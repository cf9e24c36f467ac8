/* cowreal.c - the real-kernel executor of cowfuzz.
 *
 * A supervisor runs one program at a time. Every model process is a real process
 * (p0 is forked by the supervisor; `fork P -> C` makes P call fork()), in its own
 * process group, pinned with the supervisor to one CPU (without it, a reference left
 * in another CPU's LRU batch turns a few reuses in a thousand into copies). Each
 * process obeys primitive commands on a SOCK_SEQPACKET channel, one at a time, so the
 * interleaving is the program's order. The supervisor keeps a mirror of the model's
 * names (which process is alive, which region and page is mapped, which pin is held,
 * how many buffers a pipe holds) and skips an op for the same reasons the model does.
 * After each op it reads /proc/<pid>/pagemap, /proc/kpagecount and /proc/kpageflags for
 * the pages the op touched (PFNs only as classes: equal or different).
 *
 * Mapping of ops to the kernel:
 *   write/read          fill or check the 4 KiB page in the process
 *   pokemem             pwrite() to /proc/self/mem (FOLL_FORCE)
 *   pin rw [longterm]   io_uring IORING_REGISTER_BUFFERS (FOLL_WRITE|FOLL_PIN|FOLL_LONGTERM)
 *   pin get (no rw)     vmsplice() into a pipe private to the pin (a FOLL_GET reference)
 *   readpin / writepin  IORING_OP_WRITE_FIXED to / READ_FIXED from a scratch file;
 *                       for a get pin: tee() the pipe buffer and read the copy
 *   vmsplice/readpipe   vmsplice() one page into the program's pipe; read() one page
 *   thp regions         2 MiB aligned, MADV_HUGEPAGE; other regions MADV_NOHUGEPAGE
 *   splitpmd            mprotect(PROT_NONE) and back on one subpage (PTE-maps the THP)
 *   splitthp            MADV_COLD on one subpage (splits an exclusive large folio)
 *   ksm                 ksmd run=1, sleep 0, until three full scans (tier ksm)
 *   swapout             MADV_PAGEOUT when swap is on (tier swap)
 * Not executable here, skipped with a reason (the run is then partial): R/O FOLL_PIN
 * (needs CONFIG_GUP_TEST), FOLL_GET|FOLL_WRITE pins, migrate (one NUMA node), race.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#ifndef CF_AMALGAMATED
#include "cowreal.h"
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/io_uring.h>

/* ------------------------------------------------------------------------------------ */
/* Constants the (older) uapi headers may lack. */

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif
#ifndef PAGEMAP_SCAN
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_HUGE (1 << 6)
#endif

#define CF_PAGE 4096UL
#define CF_PMD (2UL << 20)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_MMAP_EXCL (1ULL << 56)
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)
#define KPF_LRU 5
#define KPF_ANON 12
#define KPF_SWAPCACHE 13
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17
#define KPF_KSM 21
#define KPF_THP 22
#define KPF_ZERO_PAGE 24
#define KPF_ANON_EXCLUSIVE 34 /* KPF_OWNER_2: PG_anon_exclusive of the folio head */
#define CF_HAS(f, b) (((f) >> (b)) & 1)
#define CF_KSM_DIR "/sys/kernel/mm/ksm/"
#define CF_NR_HUGE "/proc/sys/vm/nr_hugepages"

static const char *const cf_reason_names[CF_R_LAST] = {
	"-", "noProcess", "processExists", "noRegion", "regionExists", "pageOutOfRange",
	"pageNotMapped", "notWritable", "noPin", "pinExists", "pinNotWritable", "noPipe",
	"pipeFull", "pipeEmpty", "badRange", "notSupportedYet", "notApplicable",
	"refusedByKernel", "gupFailed", "realUnsupported", "timedOut",
};

static const char *const cf_op_names[CF_OP_LAST] = {
	"?", "mmap", "munmap", "mprotect", "mremap", "madvise", "write", "read", "fork", "exit",
	"pin", "unpin", "readpin", "writepin", "vmsplice", "readpipe", "pokemem", "ksm",
	"migrate", "swapout", "splitpmd", "splitthp", "race",
};

/* ------------------------------------------------------------------------------------ */
/* Small helpers. */

static double cf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Async-signal-safe: open/write/close only. */
static int cf_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

static int cf_read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0) return -errno;
	buf[r] = 0;
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' ')) buf[--r] = 0;
	return 0;
}

static long cf_read_long(const char *path)
{
	char b[64];
	if (cf_read_file(path, b, sizeof b)) return -1;
	return strtol(b, NULL, 10);
}

/* Page contents: every byte holds the value; in KSM runs the last 8 bytes hold a
 * nonce unique to the run, so that no other process's page can merge with ours. */
static uint64_t cf_nonce;

static void cf_fill(unsigned char *page, int v)
{
	memset(page, v, CF_PAGE);
	if (cf_nonce) memcpy(page + CF_PAGE - 8, &cf_nonce, 8);
}

static int cf_check(const unsigned char *page)
{
	unsigned char v = page[0];
	size_t body = cf_nonce ? CF_PAGE - 8 : CF_PAGE;
	for (size_t k = 1; k < body; k++)
		if (page[k] != v) return CF_CORRUPT;
	if (cf_nonce) {
		uint64_t t;
		memcpy(&t, page + CF_PAGE - 8, 8);
		if (t == cf_nonce) return v;
		if (t == 0 && v == 0) return 0;
		return CF_CORRUPT;
	}
	return v;
}

/* ------------------------------------------------------------------------------------ */
/* io_uring by raw system calls (no liburing). */

struct cf_ring {
	int fd;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sqmap, *cqmap;
	size_t sqlen, cqlen, sqeslen;
};

static void cf_ring_unmap(struct cf_ring *r)
{
	if (r->sqes && r->sqes != MAP_FAILED) munmap(r->sqes, r->sqeslen);
	if (r->cqmap && r->cqmap != r->sqmap && r->cqmap != MAP_FAILED) munmap(r->cqmap, r->cqlen);
	if (r->sqmap && r->sqmap != MAP_FAILED) munmap(r->sqmap, r->sqlen);
	r->sqes = NULL;
	r->sqmap = r->cqmap = NULL;
}

static int cf_ring_init(struct cf_ring *r, unsigned entries)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	memset(r, 0, sizeof *r);
	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0) return -errno;
	r->sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
	if (single && r->cqlen > r->sqlen) r->sqlen = r->cqlen;
	r->sqmap = mmap(NULL, r->sqlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sqmap == MAP_FAILED) goto fail;
	if (single) {
		r->cqmap = r->sqmap;
	} else {
		r->cqmap = mmap(NULL, r->cqlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
		if (r->cqmap == MAP_FAILED) goto fail;
	}
	r->sqeslen = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqeslen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) goto fail;
	char *sq = r->sqmap, *cq = r->cqmap;
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
fail:;
	int e = errno;
	cf_ring_unmap(r);
	close(r->fd);
	r->fd = -1;
	return -e;
}

static int cf_ring_register(struct cf_ring *r, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	return syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, &iov, 1) ? -errno : 0;
}

static void cf_ring_close(struct cf_ring *r)
{
	if (r->fd < 0) return;
	/* Unregister first: it unpins now, while the ring's own teardown is deferred. */
	syscall(__NR_io_uring_register, r->fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
	cf_ring_unmap(r);
	close(r->fd);
	r->fd = -1;
}

/* One WRITE_FIXED or READ_FIXED on buffer 0; returns cqe->res. */
static int cf_ring_rw_fixed(struct cf_ring *r, int op, int fd, void *buf, unsigned len, uint64_t off)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	memset(sqe, 0, sizeof *sqe);
	sqe->opcode = (uint8_t)op;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = len;
	sqe->off = off;
	sqe->buf_index = 0;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) return -errno;
	unsigned head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		if (syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR)
			return -errno;
	}
	int res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

/* ------------------------------------------------------------------------------------ */
/* The model processes: a command loop each. */

enum {
	K_MMAP = 1, K_RESERVE, K_MUNMAP, K_MPROTECT, K_MADVISE, K_MREMAP, K_WRITE, K_READ,
	K_POKE, K_FORK, K_EXIT, K_PIN_URING, K_PIN_GET, K_UNPIN, K_READPIN, K_WRITEPIN,
	K_VMSPLICE, K_SPLITPMD, K_HANG
};

struct cf_cmd {
	int32_t op, arg, val, val2;
	uint64_t addr, len, addr2;
};

struct cf_rep {
	int32_t ok, err;
	int64_t val;
	uint64_t addr;
	int32_t pid, pad;
};

/* A pin as its owner holds it: an io_uring ring with one fixed buffer, or a pipe. */
struct cf_hold {
	int kind; /* 0 none, 1 io_uring, 2 pipe (FOLL_GET via vmsplice) */
	struct cf_ring ring;
	int pfd[2];
	uint64_t addr;
};

static struct cf_hold cf_holds[CF_MAX_NAMES];
static int cf_file_fd = -1;    /* the program's one file, for `file` regions */
static int cf_scratch_fd = -1; /* where readpin writes and writepin reads */
static int cf_tee[2] = {-1, -1};
static unsigned char *cf_iobuf; /* one page, 4 KiB aligned */

static void cf_release_hold(int g)
{
	struct cf_hold *h = &cf_holds[g];
	if (h->kind == 1) cf_ring_close(&h->ring);
	if (h->kind == 2) {
		close(h->pfd[0]);
		close(h->pfd[1]);
	}
	h->kind = 0;
}

/* A new child forgets its parent's pins (pins are not inherited: the model's rule, and
 * io_uring's, since the child closes the ring). */
static void cf_forget_holds(void)
{
	for (int g = 0; g < CF_MAX_NAMES; g++) {
		struct cf_hold *h = &cf_holds[g];
		if (h->kind == 1) {
			cf_ring_unmap(&h->ring);
			close(h->ring.fd);
		}
		if (h->kind == 2) {
			close(h->pfd[0]);
			close(h->pfd[1]);
		}
		h->kind = 0;
	}
	if (cf_tee[0] >= 0) {
		close(cf_tee[0]);
		close(cf_tee[1]);
		cf_tee[0] = cf_tee[1] = -1;
	}
}

static uint64_t cf_do_mmap(size_t len, int backing, int huge, int *err)
{
	int prot = PROT_READ | PROT_WRITE;
	int flags = backing == CF_BACK_SHARED ? MAP_SHARED | MAP_ANONYMOUS
		  : backing == CF_BACK_FILE   ? MAP_PRIVATE
					      : MAP_PRIVATE | MAP_ANONYMOUS;
	int fd = backing == CF_BACK_FILE ? cf_file_fd : -1;
	char *p;
	if (huge == CF_HUGE_HUGETLB) {
		len = (len + CF_PMD - 1) & ~(CF_PMD - 1);
		p = mmap(NULL, len, prot, flags | MAP_HUGETLB, fd, 0);
		if (p == MAP_FAILED) { *err = errno; return 0; }
		return (uintptr_t)p;
	}
	/* Every region lies between PROT_NONE guard pages, so its VMA never merges with
	 * another region's: the model's regions are separate VMAs (each with its own
	 * anon_vma, which decides whether fork copies its page tables). */
	if (huge == CF_HUGE_THP) {
		size_t span = len + 2 * CF_PMD;
		char *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (res == MAP_FAILED) { *err = errno; return 0; }
		char *a = (char *)(((uintptr_t)res + CF_PAGE + CF_PMD - 1) & ~(CF_PMD - 1));
		p = mmap(a, len, prot, flags | MAP_FIXED, fd, 0);
		if (p == MAP_FAILED) { *err = errno; munmap(res, span); return 0; }
		if (a - CF_PAGE > res) munmap(res, a - CF_PAGE - res);
		if (a + len + CF_PAGE < res + span) munmap(a + len + CF_PAGE, res + span - (a + len + CF_PAGE));
		madvise(p, len, MADV_HUGEPAGE);
		return (uintptr_t)p;
	}
	char *res = mmap(NULL, len + 2 * CF_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) { *err = errno; return 0; }
	p = mmap(res + CF_PAGE, len, prot, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) { *err = errno; munmap(res, len + 2 * CF_PAGE); return 0; }
	madvise(p, len, MADV_NOHUGEPAGE);
	return (uintptr_t)p;
}

/* A PROT_NONE reservation of len bytes at the same offset modulo 2 MiB as `like`. */
static uint64_t cf_reserve(size_t len, uint64_t like, int *err)
{
	size_t span = len + 2 * CF_PMD;
	char *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) { *err = errno; return 0; }
	char *a = (char *)((((uintptr_t)res + CF_PMD - 1) & ~(CF_PMD - 1)) + (like & (CF_PMD - 1)));
	if (a > res) munmap(res, a - res);
	if (a + len < res + span) munmap(a + len, res + span - (a + len));
	return (uintptr_t)a;
}

static int cf_madv(int advice)
{
	switch (advice) {
	case CF_ADV_DONTNEED: return MADV_DONTNEED;
	case CF_ADV_DONTFORK: return MADV_DONTFORK;
	case CF_ADV_DOFORK: return MADV_DOFORK;
	case CF_ADV_WIPEONFORK: return MADV_WIPEONFORK;
	case CF_ADV_HUGEPAGE: return MADV_HUGEPAGE;
	case CF_ADV_NOHUGEPAGE: return MADV_NOHUGEPAGE;
	case CF_ADV_COLLAPSE: return MADV_COLLAPSE;
	case CF_ADV_PAGEOUT: return MADV_PAGEOUT;
	case CF_ADV_MERGEABLE: return MADV_MERGEABLE;
	case CF_ADV_UNMERGEABLE: return MADV_UNMERGEABLE;
	}
	return -1;
}

static void cf_child_loop(int fd) __attribute__((noreturn));

static void cf_child_cmd(int fd, struct cf_cmd *c, struct cf_rep *rep, int *passfd)
{
	char *a = (char *)(uintptr_t)c->addr;
	int err = 0;
	rep->ok = 1;
	switch (c->op) {
	case K_MMAP:
		rep->addr = cf_do_mmap(c->len, c->val, c->arg, &err);
		if (!rep->addr) rep->ok = 0;
		break;
	case K_RESERVE:
		rep->addr = cf_reserve(c->len, c->addr2, &err);
		if (!rep->addr) rep->ok = 0;
		break;
	case K_MUNMAP:
		if (munmap(a, c->len)) { rep->ok = 0; err = errno; }
		break;
	case K_MPROTECT:
		if (mprotect(a, c->len, c->val)) { rep->ok = 0; err = errno; }
		break;
	case K_MADVISE:
		if (madvise(a, c->len, c->val)) { rep->ok = 0; err = errno; }
		break;
	case K_MREMAP:
		if (mremap(a, c->len, c->len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)c->addr2) == MAP_FAILED) {
			rep->ok = 0;
			err = errno;
		}
		break;
	case K_WRITE:
		cf_fill((unsigned char *)a, c->val);
		break;
	case K_READ:
		rep->val = cf_check((const unsigned char *)a);
		break;
	case K_POKE: {
		int mfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (mfd < 0) { rep->ok = 0; err = errno; break; }
		cf_fill(cf_iobuf, c->val);
		ssize_t n = pwrite(mfd, cf_iobuf, CF_PAGE, (off_t)c->addr);
		if (n != (ssize_t)CF_PAGE) { rep->ok = 0; err = n < 0 ? errno : EIO; }
		close(mfd);
		break;
	}
	case K_FORK: {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) { rep->ok = 0; err = errno; break; }
		pid_t pid = fork();
		if (pid < 0) {
			rep->ok = 0;
			err = errno;
			close(sv[0]);
			close(sv[1]);
			break;
		}
		if (pid == 0) {
			close(fd);
			close(sv[0]);
			cf_forget_holds();
			cf_child_loop(sv[1]);
		}
		close(sv[1]);
		rep->pid = pid;
		*passfd = sv[0];
		break;
	}
	case K_EXIT:
		for (int g = 0; g < CF_MAX_NAMES; g++) cf_release_hold(g);
		_exit(0);
	case K_PIN_URING: {
		struct cf_hold *h = &cf_holds[c->arg];
		int e = cf_ring_init(&h->ring, 4);
		if (e) { rep->ok = 0; err = -e; break; }
		e = cf_ring_register(&h->ring, a, CF_PAGE);
		if (e) {
			rep->ok = 0;
			err = -e;
			cf_ring_unmap(&h->ring);
			close(h->ring.fd);
			break;
		}
		h->kind = 1;
		h->addr = c->addr;
		break;
	}
	case K_PIN_GET: {
		struct cf_hold *h = &cf_holds[c->arg];
		if (pipe2(h->pfd, O_NONBLOCK | O_CLOEXEC)) { rep->ok = 0; err = errno; break; }
		struct iovec iov = {.iov_base = a, .iov_len = CF_PAGE};
		ssize_t n = vmsplice(h->pfd[1], &iov, 1, SPLICE_F_NONBLOCK);
		if (n != (ssize_t)CF_PAGE) {
			rep->ok = 0;
			err = n < 0 ? errno : EIO;
			close(h->pfd[0]);
			close(h->pfd[1]);
			break;
		}
		h->kind = 2;
		h->addr = c->addr;
		break;
	}
	case K_UNPIN:
		cf_release_hold(c->arg);
		break;
	case K_READPIN: {
		struct cf_hold *h = &cf_holds[c->arg];
		if (h->kind == 1) {
			int res = cf_ring_rw_fixed(&h->ring, IORING_OP_WRITE_FIXED, cf_scratch_fd,
						   (void *)(uintptr_t)h->addr, CF_PAGE, 0);
			if (res != (int)CF_PAGE || pread(cf_scratch_fd, cf_iobuf, CF_PAGE, 0) != (ssize_t)CF_PAGE) {
				rep->ok = 0;
				err = res < 0 ? -res : EIO;
				break;
			}
		} else if (h->kind == 2) {
			if (cf_tee[0] < 0 && pipe2(cf_tee, O_NONBLOCK | O_CLOEXEC)) { rep->ok = 0; err = errno; break; }
			ssize_t n = tee(h->pfd[0], cf_tee[1], CF_PAGE, SPLICE_F_NONBLOCK);
			if (n != (ssize_t)CF_PAGE || read(cf_tee[0], cf_iobuf, CF_PAGE) != (ssize_t)CF_PAGE) {
				rep->ok = 0;
				err = n < 0 ? errno : EIO;
				break;
			}
		} else {
			rep->ok = 0;
			err = ENOENT;
			break;
		}
		rep->val = cf_check(cf_iobuf);
		break;
	}
	case K_WRITEPIN: {
		struct cf_hold *h = &cf_holds[c->arg];
		if (h->kind != 1) { rep->ok = 0; err = ENOENT; break; }
		cf_fill(cf_iobuf, c->val);
		if (pwrite(cf_scratch_fd, cf_iobuf, CF_PAGE, 0) != (ssize_t)CF_PAGE) { rep->ok = 0; err = errno; break; }
		int res = cf_ring_rw_fixed(&h->ring, IORING_OP_READ_FIXED, cf_scratch_fd, (void *)(uintptr_t)h->addr, CF_PAGE, 0);
		if (res != (int)CF_PAGE) { rep->ok = 0; err = res < 0 ? -res : EIO; }
		break;
	}
	case K_VMSPLICE: {
		struct iovec iov = {.iov_base = a, .iov_len = CF_PAGE};
		ssize_t n = vmsplice(c->arg, &iov, 1, SPLICE_F_NONBLOCK);
		if (n != (ssize_t)CF_PAGE) { rep->ok = 0; err = n < 0 ? errno : EIO; }
		break;
	}
	case K_SPLITPMD:
		if (mprotect(a, CF_PAGE, PROT_NONE) || mprotect(a, CF_PAGE, c->val)) { rep->ok = 0; err = errno; }
		break;
	case K_HANG:
		for (;;) pause();
	default:
		rep->ok = 0;
		err = EINVAL;
	}
	rep->err = err;
}

static int cf_send(int fd, const void *buf, size_t len, int passfd)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (passfd >= 0) {
		memset(&u, 0, sizeof u);
		m.msg_control = u.b;
		m.msg_controllen = sizeof u.b;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	ssize_t n;
	do n = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

static void cf_child_loop(int fd)
{
	for (;;) {
		struct cf_cmd c;
		ssize_t n;
		do n = recv(fd, &c, sizeof c, 0);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof c) _exit(0); /* the supervisor is gone */
		struct cf_rep rep;
		memset(&rep, 0, sizeof rep);
		int passfd = -1;
		cf_child_cmd(fd, &c, &rep, &passfd);
		if (cf_send(fd, &rep, sizeof rep, passfd)) _exit(0);
		if (passfd >= 0) close(passfd);
	}
}

/* ------------------------------------------------------------------------------------ */
/* The supervisor: the mirror of the model's names, and the ops. */

struct cf_pg {
	/* merge: MADV_MERGEABLE took on the page's VMA (anonymous or private file, not
	 * hugetlb), so ksmd has something of this program to scan. */
	uint8_t mapped, w, dontfork, wipe, merge;
};

struct cf_reg {
	int exists, pages, backing, huge;
	/* Huge regions of a program whose huge-page order is below 9 are scaled: the model's
	 * huge page of 2^order pages becomes a real 2 MiB one, model page i of huge page j
	 * becomes real page 512*j + i%2^order. phase: the model offset of page 0 in its huge
	 * page (nonzero after an unaligned mremap). */
	int order, phase;
	uint64_t addr;
	struct cf_pg *pg;
};

/* Allocations never fail silently: out of memory the executor says so and exits 3,
 * which the Swift side reports as an internal error (a helper that died). */
static void *cf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		fprintf(stderr, "cowreal: out of memory (%zu x %zu bytes)\n", n, size);
		_exit(3);
	}
	return p;
}

static void *cf_xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size ? size : 1);
	if (!p) {
		fprintf(stderr, "cowreal: out of memory (%zu bytes)\n", size);
		_exit(3);
	}
	return p;
}

/* The real page offset of model boundary b (0 <= b <= pages) of a region. */
static uint64_t cf_map(const struct cf_reg *g, long b)
{
	if (g->huge == CF_HUGE_NONE || g->order >= 9 || g->order < 0) return (uint64_t)b;
	long m = 1L << g->order;
	long x = g->phase + b;
	return (uint64_t)((x / m) * 512 + x % m) - (uint64_t)((g->phase / m) * 512 + g->phase % m);
}

static uint64_t cf_va(const struct cf_reg *g, long page) { return g->addr + cf_map(g, page) * CF_PAGE; }

static uint64_t cf_span(const struct cf_reg *g, long from, long count)
{
	return (cf_map(g, from + count) - cf_map(g, from)) * CF_PAGE;
}

struct cf_proc {
	int alive;
	pid_t pid;
	int fd, pmfd;
	struct cf_reg reg[CF_MAX_NAMES];
};

struct cf_pin {
	int active, owner, kind, rw, r, page;
};

struct cf_pipe {
	int rfd, wfd, count;
};

struct cf_pstate {
	int p, r, page, present, swapped, excl, pfncls;
	long long mapcount;
	unsigned flags;
};

#define CF_MAX_TOUCH 32
#define CF_PFN_SLOTS 8192

struct cf_result {
	char st; /* 'X' executed, 'S' skipped, 'F' failed */
	int reason;
	int obs;
	char detail[200];
	int ntouch;
	struct cf_pstate touch[CF_MAX_TOUCH];
};

struct cf_features {
	int root, pfn, kpf, ae, uring, thp, ksm, swap, hugetlb, cpu;
	char ae_detail[160];
};

struct cf_options {
	int tiers;
	int timeout_ms;
	int hang_op; /* test hook: the process of this op sleeps forever instead */
	int thp_order; /* the program's huge-page order (@thp-order); 9 on x86-64 needs no scaling */
};

static struct cf_features cf_feat;
static int cf_kpf_fd = -1, cf_kpc_fd = -1;

struct cf_run {
	struct cf_proc procs[CF_MAX_NAMES];
	struct cf_pin pins[CF_MAX_NAMES];
	struct cf_pipe pipes[CF_MAX_NAMES];
	pid_t pgid;
	double deadline;
	int timedout, partial, aborted;
	int thp_order;
	struct cf_options opt;
	uint64_t pfn_key[CF_PFN_SLOTS];
	int pfn_val[CF_PFN_SLOTS];
	int npfn;
};

/* Knobs changed for a tier, restored at the end of the op or program, and from the
 * signal handler (so only async-signal-safe calls there). */
static volatile sig_atomic_t cf_ksm_dirty, cf_huge_dirty;
static char cf_ksm_orig[4][32];
static const char *const cf_ksm_knobs[4] = {
	CF_KSM_DIR "sleep_millisecs", CF_KSM_DIR "pages_to_scan", CF_KSM_DIR "smart_scan", CF_KSM_DIR "run"};
static char cf_huge_orig[32];
static volatile pid_t cf_live_pgid;

static void cf_restore_knobs(void)
{
	if (cf_ksm_dirty) {
		/* run last: stop ksmd before the scan rate goes back. */
		cf_write_file(cf_ksm_knobs[3], "0");
		for (int k = 0; k < 3; k++)
			if (cf_ksm_orig[k][0]) cf_write_file(cf_ksm_knobs[k], cf_ksm_orig[k]);
		if (cf_ksm_orig[3][0]) cf_write_file(cf_ksm_knobs[3], cf_ksm_orig[3]);
		cf_ksm_dirty = 0;
	}
	if (cf_huge_dirty) {
		cf_write_file(CF_NR_HUGE, cf_huge_orig);
		cf_huge_dirty = 0;
	}
}

static void cf_on_signal(int sig)
{
	if (cf_live_pgid > 0) kill(-cf_live_pgid, SIGKILL);
	cf_restore_knobs();
	_exit(128 + sig);
}

static void cf_on_tick(int sig) { (void)sig; }

static void cf_install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cf_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = cf_on_tick; /* no SA_RESTART: a tick interrupts a blocking waitpid */
	sigaction(SIGALRM, &sa, NULL);
}

static int cf_pfn_class(struct cf_run *R, uint64_t pfn)
{
	if (!pfn) return 0;
	unsigned h = (unsigned)((pfn * 0x9E3779B97F4A7C15ULL) >> 51) & (CF_PFN_SLOTS - 1);
	for (int n = 0; n < CF_PFN_SLOTS; n++, h = (h + 1) & (CF_PFN_SLOTS - 1)) {
		if (R->pfn_key[h] == pfn) return R->pfn_val[h];
		if (!R->pfn_key[h]) {
			if (R->npfn >= CF_PFN_SLOTS / 2) return -1;
			R->pfn_key[h] = pfn;
			R->pfn_val[h] = ++R->npfn;
			return R->npfn;
		}
	}
	return -1;
}

/* The state of one page of one process, as pagemap and /proc/kpage* show it. */
static void cf_observe_page(struct cf_run *R, int p, int r, int page, struct cf_pstate *s)
{
	struct cf_proc *P = &R->procs[p];
	memset(s, 0, sizeof *s);
	s->p = p;
	s->r = r;
	s->page = page;
	s->mapcount = -1;
	uint64_t va = cf_va(&P->reg[r], page);
	uint64_t e = 0;
	if (P->pmfd < 0 || pread(P->pmfd, &e, 8, (off_t)(va / CF_PAGE * 8)) != 8) {
		s->flags |= CF_PF_FLAGS_UNKNOWN;
		return;
	}
	s->present = !!(e & PM_PRESENT);
	s->swapped = !!(e & PM_SWAP);
	s->excl = !!(e & PM_MMAP_EXCL);
	if (!s->present) return;
	uint64_t pfn = e & PM_PFN_MASK;
	s->pfncls = cf_pfn_class(R, pfn);
	if (!pfn) {
		s->flags |= CF_PF_FLAGS_UNKNOWN;
		return;
	}
	uint64_t f = 0, c = 0;
	if (cf_kpc_fd >= 0 && pread(cf_kpc_fd, &c, 8, (off_t)(pfn * 8)) == 8) s->mapcount = (long long)c;
	if (cf_kpf_fd < 0 || pread(cf_kpf_fd, &f, 8, (off_t)(pfn * 8)) != 8) {
		s->flags |= CF_PF_FLAGS_UNKNOWN;
	} else {
		if (CF_HAS(f, KPF_ANON_EXCLUSIVE) && CF_HAS(f, KPF_ANON)) s->flags |= CF_PF_AE;
		if (CF_HAS(f, KPF_KSM)) s->flags |= CF_PF_KSM;
		if (CF_HAS(f, KPF_THP)) s->flags |= CF_PF_THP;
		if (CF_HAS(f, KPF_ZERO_PAGE)) s->flags |= CF_PF_ZERO;
		if (CF_HAS(f, KPF_SWAPCACHE)) s->flags |= CF_PF_SWAPCACHE;
		if (CF_HAS(f, KPF_ANON)) s->flags |= CF_PF_ANON;
		if (CF_HAS(f, KPF_HUGE)) s->flags |= CF_PF_HUGETLB;
		if (CF_HAS(f, KPF_COMPOUND_HEAD)) s->flags |= CF_PF_HEAD;
		if (CF_HAS(f, KPF_COMPOUND_TAIL)) s->flags |= CF_PF_TAIL;
		if (CF_HAS(f, KPF_LRU)) s->flags |= CF_PF_LRU;
	}
	if (!cf_feat.ae) s->flags |= CF_PF_AE_UNKNOWN;
	if (s->flags & CF_PF_THP) {
		struct page_region reg[2];
		struct pm_scan_arg arg;
		memset(&arg, 0, sizeof arg);
		arg.size = sizeof arg;
		arg.start = va;
		arg.end = va + CF_PAGE;
		arg.vec = (uintptr_t)reg;
		arg.vec_len = 2;
		arg.category_mask = PAGE_IS_HUGE;
		arg.return_mask = PAGE_IS_HUGE;
		if (ioctl(P->pmfd, PAGEMAP_SCAN, &arg) > 0) s->flags |= CF_PF_PMD;
	}
}

static void cf_touch(struct cf_run *R, struct cf_result *res, int p, int r, int page)
{
	if (res->ntouch >= CF_MAX_TOUCH) return;
	struct cf_proc *P = &R->procs[p];
	if (!P->alive || !P->reg[r].exists || page >= P->reg[r].pages || !P->reg[r].pg[page].mapped) return;
	for (int k = 0; k < res->ntouch; k++)
		if (res->touch[k].p == p && res->touch[k].r == r && res->touch[k].page == page) return;
	cf_observe_page(R, p, r, page, &res->touch[res->ntouch++]);
}

/* (r, page) in every live process: sharing and copies are visible side by side. */
/* What the result recorded of one page after the op (NULL if it was not touched). */
static const struct cf_pstate *cf_touched(const struct cf_result *res, int p, int r, int page)
{
	for (int k = 0; k < res->ntouch; k++)
		if (res->touch[k].p == p && res->touch[k].r == r && res->touch[k].page == page) return &res->touch[k];
	return NULL;
}

static void cf_touch_everywhere(struct cf_run *R, struct cf_result *res, int r, int page)
{
	for (int p = 0; p < CF_MAX_NAMES; p++) cf_touch(R, res, p, r, page);
}

static void cf_touch_region(struct cf_run *R, struct cf_result *res, int p, int r, int from, int count, int max)
{
	if (!R->procs[p].reg[r].exists) return;
	for (int k = from; k < from + count && k < from + max; k++) cf_touch(R, res, p, r, k);
}

static void cf_set(struct cf_result *res, char st, int reason, const char *fmt, ...)
{
	res->st = st;
	res->reason = reason;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(res->detail, sizeof res->detail, fmt, ap);
		va_end(ap);
	}
}

static void cf_kill_tree(struct cf_run *R)
{
	if (R->pgid > 0) kill(-R->pgid, SIGKILL);
	for (int p = 0; p < CF_MAX_NAMES; p++) {
		struct cf_proc *P = &R->procs[p];
		if (P->pid > 0) kill(P->pid, SIGKILL);
	}
}

/* Waits until fd is readable or the program's deadline passes (then marks the run
 * timed out and returns -2). */
static int cf_wait_readable(struct cf_run *R, int fd)
{
	for (;;) {
		int left = (int)(R->deadline - cf_now_ms());
		if (left <= 0) break;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int n = poll(&pf, 1, left);
		if (n < 0 && errno == EINTR) continue;
		if (n == 0) break;
		return 0;
	}
	R->timedout = 1;
	return -2;
}

/* One command to process p and its reply. 0 ok, -1 the process died, -2 time-out. */
static int cf_call(struct cf_run *R, int p, struct cf_cmd *c, struct cf_rep *rep, int *fdout)
{
	struct cf_proc *P = &R->procs[p];
	if (fdout) *fdout = -1;
	if (cf_send(P->fd, c, sizeof *c, -1)) return -1;
	if (cf_wait_readable(R, P->fd)) return -2;
	struct iovec iov = {.iov_base = rep, .iov_len = sizeof *rep};
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof u.b;
	ssize_t n;
	do n = recvmsg(P->fd, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *rep) return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int got;
			memcpy(&got, CMSG_DATA(cm), sizeof got);
			if (fdout) *fdout = got;
			else close(got);
		}
	}
	return 0;
}

/* Waits until process p has closed its channel: its mm is torn down by then
 * (do_exit runs exit_mm before exit_files). */
static int cf_wait_gone(struct cf_run *R, int p)
{
	struct cf_proc *P = &R->procs[p];
	for (;;) {
		if (cf_wait_readable(R, P->fd)) return -2;
		char b[sizeof(struct cf_rep)];
		ssize_t k = recv(P->fd, b, sizeof b, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) return 0;
	}
}

static void cf_drop_proc(struct cf_run *R, int p)
{
	struct cf_proc *P = &R->procs[p];
	for (int r = 0; r < CF_MAX_NAMES; r++) {
		free(P->reg[r].pg);
		P->reg[r].pg = NULL;
		P->reg[r].exists = 0;
	}
	for (int g = 0; g < CF_MAX_NAMES; g++)
		if (R->pins[g].active && R->pins[g].owner == p) R->pins[g].active = 0;
	if (P->fd >= 0) close(P->fd);
	if (P->pmfd >= 0) close(P->pmfd);
	P->fd = P->pmfd = -1;
	P->alive = 0;
	P->pid = 0;
}

/* A command whose failure is the op's failure; the process dying or hanging aborts. */
static int cf_do(struct cf_run *R, struct cf_result *res, int p, struct cf_cmd *c, struct cf_rep *rep)
{
	int e = cf_call(R, p, c, rep, NULL);
	if (e == -2) {
		cf_set(res, 'F', CF_R_TIMEDOUT, "time-out: the process did not answer");
		return -1;
	}
	if (e == -1) {
		cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "process p%d died", p);
		cf_drop_proc(R, p);
		return -1;
	}
	return 0;
}

static int cf_locate(struct cf_run *R, int p, int r, int page)
{
	if (p < 0 || p >= CF_MAX_NAMES || !R->procs[p].alive) return CF_R_NOPROCESS;
	if (r < 0 || r >= CF_MAX_NAMES || !R->procs[p].reg[r].exists) return CF_R_NOREGION;
	struct cf_reg *g = &R->procs[p].reg[r];
	if (page < 0 || page >= g->pages) return CF_R_PAGEOUTOFRANGE;
	if (!g->pg[page].mapped) return CF_R_PAGENOTMAPPED;
	return 0;
}

/* The range of a region op, or the reason to skip it (the model's locateRange). */
static int cf_locate_range(struct cf_run *R, const struct cf_op *op, int need_mapped, int *from, int *count)
{
	int p = op->p, r = op->r;
	if (p < 0 || p >= CF_MAX_NAMES || !R->procs[p].alive) return CF_R_NOPROCESS;
	if (r < 0 || r >= CF_MAX_NAMES || !R->procs[p].reg[r].exists) return CF_R_NOREGION;
	struct cf_reg *g = &R->procs[p].reg[r];
	*from = op->count < 0 ? 0 : op->from;
	*count = op->count < 0 ? g->pages : op->count;
	if (*from < 0 || *count < 0 || *from + *count > g->pages) return CF_R_BADRANGE;
	if (need_mapped)
		for (int k = *from; k < *from + *count; k++)
			if (!g->pg[k].mapped) return CF_R_PAGENOTMAPPED;
	return 0;
}

static void cf_retire_if_empty(struct cf_run *R, int p, int r)
{
	struct cf_reg *g = &R->procs[p].reg[r];
	for (int k = 0; k < g->pages; k++)
		if (g->pg[k].mapped) return;
	free(g->pg);
	g->pg = NULL;
	g->exists = 0;
}

static int cf_tier_enabled(struct cf_run *R, int tier) { return (R->opt.tiers & tier) != 0; }

static int cf_swap_active(void)
{
	FILE *f = fopen("/proc/swaps", "re");
	if (!f) return 0;
	char line[256];
	int n = 0;
	while (fgets(line, sizeof line, f)) n++;
	fclose(f);
	return n > 1;
}

/* Records the knobs, then drives ksmd (sleep 0, 10000 pages, no smart scan, run=1).
 * Returns full_scans before the start, or -1. */
static long cf_ksm_pass_begin(char *why, size_t whylen)
{
	for (int k = 0; k < 4; k++) {
		cf_ksm_orig[k][0] = 0;
		if (cf_read_file(cf_ksm_knobs[k], cf_ksm_orig[k], sizeof cf_ksm_orig[k]) && k != 2) {
			snprintf(why, whylen, "cannot read %s", cf_ksm_knobs[k]);
			return -1;
		}
	}
	cf_ksm_dirty = 1;
	int bad = cf_write_file(cf_ksm_knobs[0], "0") || cf_write_file(cf_ksm_knobs[1], "10000");
	if (cf_ksm_orig[2][0]) cf_write_file(cf_ksm_knobs[2], "0");
	long start = cf_read_long(CF_KSM_DIR "full_scans");
	if (bad || start < 0 || cf_write_file(cf_ksm_knobs[3], "1")) {
		cf_restore_knobs();
		snprintf(why, whylen, "cannot drive ksmd through %s", CF_KSM_DIR);
		return -1;
	}
	return start;
}

/* One KSM pass: ksmd runs (sleep 0, no smart scan) for three full scans, then stops. */
static int cf_ksm_pass(char *why, size_t whylen)
{
	long start = cf_ksm_pass_begin(why, whylen);
	if (start < 0) return -1;
	double t0 = cf_now_ms();
	int ok = 0;
	while (cf_now_ms() - t0 < 2000) {
		if (cf_read_long(CF_KSM_DIR "full_scans") >= start + 3) {
			ok = 1;
			break;
		}
		usleep(200);
	}
	cf_restore_knobs();
	if (!ok) {
		snprintf(why, whylen, "ksmd did not finish three full scans in 2 s");
		return -1;
	}
	return 0;
}

static void cf_exec_op(struct cf_run *R, int idx, const struct cf_op *op, struct cf_result *res)
{
	struct cf_cmd c;
	struct cf_rep rep;
	memset(&c, 0, sizeof c);
	memset(res, 0, sizeof *res);
	res->obs = -1;
	res->st = 'X';
	int p = op->p, r = op->r, page = op->page, why, from = 0, count = 0;

	if (R->opt.hang_op == idx && op->kind == CF_OP_KSM && cf_tier_enabled(R, CF_TIER_KSM)) {
		/* Test hook: ksmd is driven, then the helper itself hangs mid-pass, so that a
		 * test can kill it there and check who restores the knobs. */
		char why[160];
		cf_ksm_pass_begin(why, sizeof why);
		for (;;) pause();
	}
	if (R->opt.hang_op == idx) {
		int hp = (p >= 0 && p < CF_MAX_NAMES && R->procs[p].alive) ? p : 0;
		if (R->procs[hp].alive) {
			c.op = K_HANG;
			if (cf_do(R, res, hp, &c, &rep)) return;
		}
	}

	switch (op->kind) {
	case CF_OP_MMAP: {
		if (p < 0 || p >= CF_MAX_NAMES || !R->procs[p].alive) { cf_set(res, 'S', CF_R_NOPROCESS, NULL); return; }
		if (r < 0 || r >= CF_MAX_NAMES) { cf_set(res, 'S', CF_R_NOREGION, NULL); return; }
		struct cf_reg *g = &R->procs[p].reg[r];
		if (g->exists) { cf_set(res, 'S', CF_R_REGIONEXISTS, NULL); return; }
		if (op->flags == CF_HUGE_HUGETLB && op->val != CF_BACK_ANON) { cf_set(res, 'S', CF_R_NOTAPPLICABLE, NULL); return; }
		if (op->pages < 1 || op->pages > CF_MAX_PAGES) { cf_set(res, 'S', CF_R_BADRANGE, NULL); return; }
		if (op->flags == CF_HUGE_HUGETLB && !cf_tier_enabled(R, CF_TIER_HUGETLB)) {
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "hugetlb needs the opt-in tier (--real-tiers hugetlb)");
			return;
		}
		if (op->flags == CF_HUGE_HUGETLB && !cf_feat.hugetlb) {
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "no hugetlb pages can be reserved here");
			return;
		}
		c.op = K_MMAP;
		g->huge = op->flags;
		g->order = op->flags == CF_HUGE_NONE ? 9 : R->thp_order;
		g->phase = 0;
		c.len = cf_span(g, 0, op->pages);
		c.val = op->val;
		c.arg = op->flags;
		if (cf_do(R, res, p, &c, &rep)) return;
		if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "mmap: %s", strerror(rep.err)); return; }
		g->exists = 1;
		g->pages = op->pages;
		g->backing = op->val;
		g->huge = op->flags;
		g->addr = rep.addr;
		g->pg = cf_xcalloc((size_t)op->pages, sizeof *g->pg);
		for (int k = 0; k < op->pages; k++) {
			g->pg[k].mapped = 1;
			g->pg[k].w = 1;
		}
		cf_touch_region(R, res, p, r, 0, op->pages, 8);
		return;
	}
	case CF_OP_MUNMAP:
		if ((why = cf_locate_range(R, op, 0, &from, &count))) { cf_set(res, 'S', why, NULL); return; }
		{
			/* Only the runs of pages the region still maps: a hole left by an earlier
			 * munmap or mremap may hold another mapping by now (another region, the
			 * helper's own io_uring rings), which the whole span would take away. */
			struct cf_reg *g = &R->procs[p].reg[r];
			for (int k = from; k < from + count;) {
				if (!g->pg[k].mapped) { k++; continue; }
				int e = k;
				while (e < from + count && g->pg[e].mapped) e++;
				c.op = K_MUNMAP;
				c.addr = cf_va(g, k);
				c.len = cf_span(g, k, e - k);
				if (cf_do(R, res, p, &c, &rep)) return;
				if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "munmap: %s", strerror(rep.err)); return; }
				k = e;
			}
		}
		for (int k = from; k < from + count; k++) memset(&R->procs[p].reg[r].pg[k], 0, sizeof(struct cf_pg));
		cf_retire_if_empty(R, p, r);
		return;
	case CF_OP_MPROTECT:
		if ((why = cf_locate_range(R, op, 1, &from, &count))) { cf_set(res, 'S', why, NULL); return; }
		c.op = K_MPROTECT;
		c.addr = cf_va(&R->procs[p].reg[r], from);
		c.len = cf_span(&R->procs[p].reg[r], from, count);
		c.val = op->val ? PROT_READ | PROT_WRITE : PROT_READ;
		if (count > 0) {
			if (cf_do(R, res, p, &c, &rep)) return;
			if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "mprotect: %s", strerror(rep.err)); return; }
		}
		for (int k = from; k < from + count; k++) R->procs[p].reg[r].pg[k].w = op->val ? 1 : 0;
		cf_touch_region(R, res, p, r, from, count, 8);
		return;
	case CF_OP_MREMAP: {
		if ((why = cf_locate_range(R, op, 1, &from, &count))) { cf_set(res, 'S', why, NULL); return; }
		int to = op->arg;
		if (to < 0 || to >= CF_MAX_NAMES || to == r || R->procs[p].reg[to].exists) {
			cf_set(res, 'S', CF_R_REGIONEXISTS, NULL);
			return;
		}
		struct cf_reg *src = &R->procs[p].reg[r];
		if (src->huge == CF_HUGE_HUGETLB) {
			/* As the kernel and the model (HugetlbRange): a hugetlb length is aligned up
			 * to whole huge pages, so every page of them moves. (Off a boundary or past
			 * the VMA the kernel refuses, EINVAL / EFAULT.) */
			int m = 1 << (src->order >= 0 && src->order < 9 ? src->order : 9);
			int aligned = (count + m - 1) / m * m;
			if (from % m == 0 && from + aligned <= src->pages) count = aligned;
		}
		uint64_t sa = cf_va(src, from), len = cf_span(src, from, count);
		uint64_t dst = 0;
		if (count > 0) {
			c.op = K_RESERVE;
			c.len = len;
			c.addr2 = sa;
			if (cf_do(R, res, p, &c, &rep)) return;
			if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "mremap reservation: %s", strerror(rep.err)); return; }
			dst = rep.addr;
			memset(&c, 0, sizeof c);
			c.op = K_MREMAP;
			c.addr = sa;
			c.len = len;
			c.addr2 = dst;
			if (cf_do(R, res, p, &c, &rep)) return;
			if (!rep.ok) {
				/* Several VMAs: move page by page (each move keeps its VMA's flags). */
				for (int k = 0; k < count; k++) {
					c.addr = cf_va(src, from + k);
					c.addr2 = dst + (cf_va(src, from + k) - sa);
					c.len = CF_PAGE;
					if (cf_do(R, res, p, &c, &rep)) return;
					if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "mremap: %s", strerror(rep.err)); return; }
				}
			}
		}
		struct cf_reg *d = &R->procs[p].reg[to];
		d->exists = 1;
		d->pages = count;
		d->backing = src->backing;
		d->huge = src->huge;
		d->order = src->order;
		d->phase = src->order < 9 ? (int)((src->phase + from) % (1L << src->order)) : 0;
		d->addr = dst;
		d->pg = cf_xcalloc((size_t)count, sizeof *d->pg);
		for (int k = 0; k < count; k++) {
			d->pg[k] = src->pg[from + k];
			memset(&src->pg[from + k], 0, sizeof(struct cf_pg));
		}
		if (count == 0) {
			free(d->pg);
			d->pg = NULL;
			d->exists = 0;
		}
		cf_retire_if_empty(R, p, r);
		cf_touch_region(R, res, p, to, 0, count, 8);
		return;
	}
	case CF_OP_MADVISE: {
		if ((why = cf_locate_range(R, op, 1, &from, &count))) { cf_set(res, 'S', why, NULL); return; }
		struct cf_reg *g = &R->procs[p].reg[r];
		int adv = op->val;
		if (adv == CF_ADV_WIPEONFORK && (g->backing != CF_BACK_ANON || g->huge == CF_HUGE_HUGETLB)) {
			cf_set(res, 'S', CF_R_NOTAPPLICABLE, NULL);
			return;
		}
		if ((adv == CF_ADV_HUGEPAGE || adv == CF_ADV_NOHUGEPAGE) && g->huge == CF_HUGE_HUGETLB) {
			cf_set(res, 'S', CF_R_NOTAPPLICABLE, NULL);
			return;
		}
		/* As the model: shmem pages going to swap are not modelled. */
		if (adv == CF_ADV_PAGEOUT && g->backing == CF_BACK_SHARED) {
			cf_set(res, 'S', CF_R_NOTAPPLICABLE, "pageout of shmem is not modelled");
			return;
		}
		/* Without swap MADV_PAGEOUT keeps anonymous pages resident where the model
		 * swaps them out: gated on swap exactly as swapout is. */
		if (adv == CF_ADV_PAGEOUT && !cf_tier_enabled(R, CF_TIER_SWAP)) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "pageout needs the opt-in tier (--real-tiers swap)");
			return;
		}
		if (adv == CF_ADV_PAGEOUT && !cf_swap_active()) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "pageout: no swap device is active");
			return;
		}
		c.op = K_MADVISE;
		c.addr = cf_va(g, from);
		c.len = cf_span(g, from, count);
		c.val = cf_madv(adv);
		if (count > 0) {
			if (cf_do(R, res, p, &c, &rep)) return;
			if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "madvise: %s", strerror(rep.err)); return; }
		}
		for (int k = from; k < from + count; k++) {
			if (adv == CF_ADV_DONTFORK) g->pg[k].dontfork = 1;
			if (adv == CF_ADV_DOFORK) g->pg[k].dontfork = 0;
			if (adv == CF_ADV_WIPEONFORK) g->pg[k].wipe = 1;
			if (adv == CF_ADV_MERGEABLE && g->backing != CF_BACK_SHARED && g->huge != CF_HUGE_HUGETLB) g->pg[k].merge = 1;
			if (adv == CF_ADV_UNMERGEABLE) g->pg[k].merge = 0;
		}
		cf_touch_region(R, res, p, r, from, count, 8);
		return;
	}
	case CF_OP_WRITE:
	case CF_OP_READ:
	case CF_OP_POKEMEM: {
		if ((why = cf_locate(R, p, r, page))) { cf_set(res, 'S', why, NULL); return; }
		struct cf_reg *g = &R->procs[p].reg[r];
		if (op->kind == CF_OP_WRITE && !g->pg[page].w) { cf_set(res, 'S', CF_R_NOTWRITABLE, NULL); return; }
		if (op->kind == CF_OP_POKEMEM && !g->pg[page].w && g->backing == CF_BACK_SHARED) {
			cf_set(res, 'F', CF_R_GUPFAILED, "FOLL_FORCE does not override a read-only shared mapping");
			return;
		}
		c.op = op->kind == CF_OP_WRITE ? K_WRITE : op->kind == CF_OP_READ ? K_READ : K_POKE;
		c.addr = cf_va(g, page);
		c.val = op->val;
		if (cf_do(R, res, p, &c, &rep)) return;
		if (!rep.ok) {
			cf_set(res, 'F', g->huge == CF_HUGE_HUGETLB ? CF_R_REFUSEDBYKERNEL : CF_R_GUPFAILED,
			       "/proc/self/mem write: %s", strerror(rep.err));
			return;
		}
		if (op->kind == CF_OP_READ) res->obs = (int)rep.val;
		cf_touch_everywhere(R, res, r, page);
		return;
	}
	case CF_OP_FORK: {
		int ch = op->arg;
		if (p < 0 || p >= CF_MAX_NAMES || !R->procs[p].alive) { cf_set(res, 'S', CF_R_NOPROCESS, NULL); return; }
		if (ch < 0 || ch >= CF_MAX_NAMES || R->procs[ch].alive) { cf_set(res, 'S', CF_R_PROCESSEXISTS, NULL); return; }
		int fd = -1;
		c.op = K_FORK;
		int e = cf_call(R, p, &c, &rep, &fd);
		if (e == -2) { cf_set(res, 'F', CF_R_TIMEDOUT, "time-out: the process did not answer"); return; }
		if (e == -1) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "process p%d died during fork", p); cf_drop_proc(R, p); return; }
		if (!rep.ok || fd < 0) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "fork: %s", strerror(rep.err)); return; }
		struct cf_proc *C = &R->procs[ch], *P = &R->procs[p];
		C->alive = 1;
		C->pid = rep.pid;
		C->fd = fd;
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/pagemap", (int)rep.pid);
		C->pmfd = open(path, O_RDONLY | O_CLOEXEC);
		for (int rr = 0; rr < CF_MAX_NAMES; rr++) {
			struct cf_reg *pg = &P->reg[rr], *cg = &C->reg[rr];
			memset(cg, 0, sizeof *cg);
			if (!pg->exists) continue;
			int any = 0;
			for (int k = 0; k < pg->pages; k++)
				if (pg->pg[k].mapped && !pg->pg[k].dontfork) any = 1;
			if (!any) continue;
			*cg = *pg;
			cg->pg = cf_xcalloc((size_t)pg->pages, sizeof *cg->pg);
			for (int k = 0; k < pg->pages; k++)
				if (pg->pg[k].mapped && !pg->pg[k].dontfork) cg->pg[k] = pg->pg[k];
		}
		int left = CF_MAX_TOUCH;
		for (int rr = 0; rr < CF_MAX_NAMES && left > 0; rr++) {
			if (!P->reg[rr].exists) continue;
			int n = P->reg[rr].pages < 4 ? P->reg[rr].pages : 4;
			cf_touch_region(R, res, p, rr, 0, n, n);
			cf_touch_region(R, res, ch, rr, 0, n, n);
			left -= 2 * n;
		}
		return;
	}
	case CF_OP_EXIT:
		if (p < 0 || p >= CF_MAX_NAMES || !R->procs[p].alive) { cf_set(res, 'S', CF_R_NOPROCESS, NULL); return; }
		c.op = K_EXIT;
		if (cf_send(R->procs[p].fd, &c, sizeof c, -1) == 0 && cf_wait_gone(R, p) == -2) {
			cf_set(res, 'F', CF_R_TIMEDOUT, "time-out: the process did not exit");
			return;
		}
		cf_drop_proc(R, p);
		return;
	case CF_OP_PIN: {
		int g = op->arg;
		if (g < 0 || g >= CF_MAX_NAMES) { cf_set(res, 'S', CF_R_NOPIN, NULL); return; }
		if (R->pins[g].active) { cf_set(res, 'S', CF_R_PINEXISTS, NULL); return; }
		if ((why = cf_locate(R, p, r, page))) { cf_set(res, 'S', why, NULL); return; }
		struct cf_reg *rg = &R->procs[p].reg[r];
		int rw = (op->flags & CF_PIN_RW) != 0, get = (op->flags & CF_PIN_GET) != 0;
		if (rw && !rg->pg[page].w) { cf_set(res, 'F', CF_R_GUPFAILED, "FOLL_WRITE on a read-only mapping"); return; }
		if (!rw && !get) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED,
			       "a R/O FOLL_PIN cannot be held from user space without CONFIG_GUP_TEST");
			return;
		}
		if (rw && get) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "no user-space interface holds a FOLL_GET|FOLL_WRITE reference");
			return;
		}
		if (rw && !cf_feat.uring) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "io_uring is not available: no R/W long-term pin");
			return;
		}
		c.op = rw ? K_PIN_URING : K_PIN_GET;
		c.arg = g;
		c.addr = cf_va(rg, page);
		if (cf_do(R, res, p, &c, &rep)) return;
		if (!rep.ok) { cf_set(res, 'F', CF_R_GUPFAILED, "%s: %s", rw ? "IORING_REGISTER_BUFFERS" : "vmsplice", strerror(rep.err)); return; }
		R->pins[g] = (struct cf_pin){.active = 1, .owner = p, .kind = rw ? 1 : 2, .rw = rw, .r = r, .page = page};
		snprintf(res->detail, sizeof res->detail, "%s",
			 rw ? (op->flags & CF_PIN_LONGTERM ? "io_uring fixed buffer (FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM)"
							   : "io_uring fixed buffer: FOLL_LONGTERM as well")
			    : "vmsplice into a private pipe (FOLL_GET)");
		cf_touch_everywhere(R, res, r, page);
		return;
	}
	case CF_OP_UNPIN:
	case CF_OP_READPIN:
	case CF_OP_WRITEPIN: {
		int g = op->arg;
		if (g < 0 || g >= CF_MAX_NAMES || !R->pins[g].active) { cf_set(res, 'S', CF_R_NOPIN, NULL); return; }
		struct cf_pin *pin = &R->pins[g];
		if (op->kind == CF_OP_WRITEPIN && !pin->rw) { cf_set(res, 'S', CF_R_PINNOTWRITABLE, NULL); return; }
		c.op = op->kind == CF_OP_UNPIN ? K_UNPIN : op->kind == CF_OP_READPIN ? K_READPIN : K_WRITEPIN;
		c.arg = g;
		c.val = op->val;
		int owner = pin->owner;
		if (cf_do(R, res, owner, &c, &rep)) return;
		if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "%s: %s", cf_op_names[op->kind], strerror(rep.err)); return; }
		if (op->kind == CF_OP_UNPIN) pin->active = 0;
		if (op->kind == CF_OP_READPIN) res->obs = (int)rep.val;
		cf_touch_everywhere(R, res, pin->r, pin->page);
		return;
	}
	case CF_OP_VMSPLICE: {
		int pi = op->arg;
		if (pi < 0 || pi >= CF_MAX_NAMES || R->pipes[pi].wfd < 0) { cf_set(res, 'S', CF_R_NOPIPE, NULL); return; }
		if (R->pipes[pi].count >= CF_PIPE_DEPTH) { cf_set(res, 'S', CF_R_PIPEFULL, NULL); return; }
		if ((why = cf_locate(R, p, r, page))) { cf_set(res, 'S', why, NULL); return; }
		c.op = K_VMSPLICE;
		c.arg = R->pipes[pi].wfd;
		c.addr = cf_va(&R->procs[p].reg[r], page);
		if (cf_do(R, res, p, &c, &rep)) return;
		if (!rep.ok) { cf_set(res, 'F', CF_R_GUPFAILED, "vmsplice: %s", strerror(rep.err)); return; }
		R->pipes[pi].count++;
		cf_touch_everywhere(R, res, r, page);
		return;
	}
	case CF_OP_READPIPE: {
		int pi = op->arg;
		if (pi < 0 || pi >= CF_MAX_NAMES || R->pipes[pi].rfd < 0) { cf_set(res, 'S', CF_R_NOPIPE, NULL); return; }
		if (R->pipes[pi].count == 0) { cf_set(res, 'S', CF_R_PIPEEMPTY, NULL); return; }
		ssize_t n = read(R->pipes[pi].rfd, cf_iobuf, CF_PAGE);
		if (n != (ssize_t)CF_PAGE) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "pipe read: %zd", n); return; }
		R->pipes[pi].count--;
		res->obs = cf_check(cf_iobuf);
		return;
	}
	case CF_OP_KSM: {
		if (!cf_tier_enabled(R, CF_TIER_KSM)) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "KSM needs the opt-in tier (--real-tiers ksm)");
			return;
		}
		if (!cf_feat.ksm) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "no KSM here (/sys/kernel/mm/ksm)");
			return;
		}
		/* With no mergeable VMA in any process ksmd has nothing of ours to scan, and
		 * its full_scans counter does not move (6.18): the pass changes nothing here,
		 * as in the model, so it is done at once instead of timing out. */
		int mergeable = 0;
		for (int pp = 0; pp < CF_MAX_NAMES && !mergeable; pp++)
			for (int rr = 0; rr < CF_MAX_NAMES && !mergeable; rr++) {
				const struct cf_reg *g = &R->procs[pp].reg[rr];
				if (!R->procs[pp].alive || !g->exists) continue;
				for (int k = 0; k < g->pages; k++)
					if (g->pg[k].mapped && g->pg[k].merge) mergeable = 1;
			}
		char why2[160];
		if (mergeable && cf_ksm_pass(why2, sizeof why2)) {
			R->partial = 1;
			cf_set(res, 'F', CF_R_REALUNSUPPORTED, "%s", why2);
			return;
		}
		for (int pp = 0; pp < CF_MAX_NAMES; pp++)
			for (int rr = 0; rr < CF_MAX_NAMES; rr++)
				if (R->procs[pp].alive && R->procs[pp].reg[rr].exists)
					cf_touch_region(R, res, pp, rr, 0, R->procs[pp].reg[rr].pages, 4);
		return;
	}
	case CF_OP_MIGRATE:
		if ((why = cf_locate(R, p, r, page))) { cf_set(res, 'S', why, NULL); return; }
		R->partial = 1;
		cf_set(res, 'S', CF_R_REALUNSUPPORTED, "one NUMA node: nothing migrates one page on demand");
		return;
	case CF_OP_SWAPOUT: {
		if ((why = cf_locate(R, p, r, page))) { cf_set(res, 'S', why, NULL); return; }
		/* As the model: swapout reclaims a present, anonymous, non-KSM page of a private
		 * anonymous mapping, and does not apply to anything else. */
		struct cf_reg *sg = &R->procs[p].reg[r];
		struct cf_pstate pre;
		cf_observe_page(R, p, r, page, &pre);
		if (sg->backing != CF_BACK_ANON || sg->huge == CF_HUGE_HUGETLB ||
		    (!(pre.flags & CF_PF_FLAGS_UNKNOWN) &&
		     (!pre.present || !(pre.flags & CF_PF_ANON) || (pre.flags & (CF_PF_KSM | CF_PF_ZERO))))) {
			cf_set(res, 'S', CF_R_NOTAPPLICABLE, "not a present anonymous page");
			return;
		}
		if (!cf_tier_enabled(R, CF_TIER_SWAP)) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "swap needs the opt-in tier (--real-tiers swap)");
			return;
		}
		if (!cf_swap_active()) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "no swap device is active");
			return;
		}
		c.op = K_MADVISE;
		c.addr = cf_va(&R->procs[p].reg[r], page);
		c.len = CF_PAGE;
		c.val = MADV_PAGEOUT;
		if (cf_do(R, res, p, &c, &rep)) return;
		if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "MADV_PAGEOUT: %s", strerror(rep.err)); return; }
		cf_touch_everywhere(R, res, r, page);
		/* The page of the process that asked, wherever the touch list puts it. */
		const struct cf_pstate *after = cf_touched(res, p, r, page);
		if (after && after->present) {
			/* The model's swapout is reclaim, which unmaps a shared page everywhere;
			 * MADV_PAGEOUT skips pages another process maps, or pinned ones. */
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED,
			       "MADV_PAGEOUT left the page in memory (shared or pinned): nothing reclaims one page on demand");
		}
		return;
	}
	case CF_OP_SPLITPMD:
	case CF_OP_SPLITTHP: {
		if ((why = cf_locate(R, p, r, page))) { cf_set(res, 'S', why, NULL); return; }
		struct cf_reg *g = &R->procs[p].reg[r];
		if (g->huge != CF_HUGE_THP) { cf_set(res, 'S', CF_R_NOTAPPLICABLE, "not a THP region"); return; }
		{
			/* As the model: splitthp applies to a page of a large folio only, splitpmd
			 * to a PMD-mapped page only. */
			struct cf_pstate pre;
			cf_observe_page(R, p, r, page, &pre);
			unsigned need = op->kind == CF_OP_SPLITTHP ? CF_PF_THP : CF_PF_PMD;
			if (!(pre.flags & CF_PF_FLAGS_UNKNOWN) && (!pre.present || !(pre.flags & need))) {
				cf_set(res, 'S', CF_R_NOTAPPLICABLE, op->kind == CF_OP_SPLITTHP ? "not a page of a large folio" : "not PMD-mapped");
				return;
			}
		}
		c.addr = cf_va(g, page);
		if (op->kind == CF_OP_SPLITPMD) {
			c.op = K_SPLITPMD;
			c.val = g->pg[page].w ? PROT_READ | PROT_WRITE : PROT_READ;
		} else {
			c.op = K_MADVISE;
			c.len = CF_PAGE;
			c.val = MADV_COLD;
		}
		if (cf_do(R, res, p, &c, &rep)) return;
		if (!rep.ok) { cf_set(res, 'F', CF_R_REFUSEDBYKERNEL, "%s: %s", cf_op_names[op->kind], strerror(rep.err)); return; }
		cf_touch_everywhere(R, res, r, page);
		const struct cf_pstate *after = cf_touched(res, p, r, page);
		if (op->kind == CF_OP_SPLITTHP && after && (after->flags & CF_PF_THP)) {
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED,
			       "MADV_COLD left the folio large (shared or pinned); debugfs split_huge_pages is locked down");
		}
		return;
	}
	case CF_OP_RACE:
		R->partial = 1;
		cf_set(res, 'S', CF_R_REALUNSUPPORTED, "races are not scheduled on the real kernel");
		return;
	}
	cf_set(res, 'S', CF_R_NOTAPPLICABLE, "unknown op kind %d", op->kind);
}

/* ------------------------------------------------------------------------------------ */
/* Running a program: set up, run every op, tear everything down. */

typedef void (*cf_emit_fn)(void *ctx, int idx, const struct cf_op *op, const struct cf_result *res);
/* Called once the tree exists: the server reports the process group at once, so that
 * its client can kill the group even if this supervisor hangs. */
static void (*cf_began_hook)(pid_t pgid);

static int cf_hugetlb_reserve(const struct cf_op *ops, int nops, char *why, size_t whylen)
{
	long need = 0;
	for (int i = 0; i < nops; i++)
		if (ops[i].kind == CF_OP_MMAP && ops[i].flags == CF_HUGE_HUGETLB) need += (ops[i].pages + 511) / 512;
	if (!need) return 0;
	need = need * 3 + 2;
	if (need > 64) need = 64;
	if (cf_read_file(CF_NR_HUGE, cf_huge_orig, sizeof cf_huge_orig)) {
		snprintf(why, whylen, "cannot read %s", CF_NR_HUGE);
		return -1;
	}
	long orig = strtol(cf_huge_orig, NULL, 10);
	char buf[32];
	snprintf(buf, sizeof buf, "%ld", orig + need);
	cf_huge_dirty = 1;
	if (cf_write_file(CF_NR_HUGE, buf)) {
		cf_restore_knobs();
		snprintf(why, whylen, "cannot write %s", CF_NR_HUGE);
		return -1;
	}
	return 0;
}

/* Runs one program. Returns 0, or -1 when the tree could not even start. */
static int cf_run_program(const struct cf_op *ops, int nops, const struct cf_options *opt, cf_emit_fn emit, void *ctx,
			  pid_t *pgid_out, struct cf_run **run_out)
{
	struct cf_run *R = calloc(1, sizeof *R);
	if (!R) return -1;
	R->opt = *opt;
	R->thp_order = opt->thp_order > 0 && opt->thp_order < 9 ? opt->thp_order : 9;
	for (int k = 0; k < CF_MAX_NAMES; k++) {
		R->procs[k].fd = R->procs[k].pmfd = -1;
		R->pipes[k].rfd = R->pipes[k].wfd = -1;
	}
	cf_nonce = 0;
	int uses_ksm = 0, maxfile = 1;
	for (int i = 0; i < nops; i++) {
		if (ops[i].kind == CF_OP_KSM || (ops[i].kind == CF_OP_MADVISE && ops[i].val == CF_ADV_MERGEABLE)) uses_ksm = 1;
		if (ops[i].kind == CF_OP_MMAP) {
			struct cf_reg g = {.huge = ops[i].flags, .order = ops[i].flags == CF_HUGE_NONE ? 9 : R->thp_order};
			int span = (int)cf_map(&g, ops[i].pages);
			if (span > maxfile) maxfile = span;
		}
		if ((ops[i].kind == CF_OP_VMSPLICE || ops[i].kind == CF_OP_READPIPE) && ops[i].arg >= 0 && ops[i].arg < CF_MAX_NAMES &&
		    R->pipes[ops[i].arg].rfd < 0) {
			int pf[2];
			if (pipe2(pf, O_CLOEXEC) == 0) {
				fcntl(pf[0], F_SETFL, O_NONBLOCK);
				R->pipes[ops[i].arg].rfd = pf[0];
				R->pipes[ops[i].arg].wfd = pf[1];
			}
		}
	}
	if (uses_ksm && cf_tier_enabled(R, CF_TIER_KSM)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		cf_nonce = ((uint64_t)ts.tv_nsec << 20) ^ ((uint64_t)getpid() << 40) ^ (uint64_t)ts.tv_sec ^ 0x636f77667a7aULL;
		if (!cf_nonce) cf_nonce = 1;
	}
	const char *tmp = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/cowfuzz-real-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cf_file_fd = mkostemp(path, O_CLOEXEC);
	if (cf_file_fd >= 0) unlink(path);
	snprintf(path, sizeof path, "%s/cowfuzz-real-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cf_scratch_fd = mkostemp(path, O_CLOEXEC);
	if (cf_scratch_fd >= 0) unlink(path);
	if (cf_file_fd < 0 || cf_scratch_fd < 0 || ftruncate(cf_file_fd, (off_t)maxfile * CF_PAGE)) {
		if (cf_file_fd >= 0) close(cf_file_fd);
		if (cf_scratch_fd >= 0) close(cf_scratch_fd);
		cf_file_fd = cf_scratch_fd = -1;
		free(R);
		return -1;
	}
	char why[160] = "";
	int huge_failed = 0;
	if (cf_tier_enabled(R, CF_TIER_HUGETLB) && cf_hugetlb_reserve(ops, nops, why, sizeof why)) huge_failed = 1;

	/* p0: the root of the tree, in its own process group. */
	int sv[2];
	R->deadline = cf_now_ms() + (opt->timeout_ms > 0 ? opt->timeout_ms : 5000);
	fflush(stdout);
	fflush(stderr);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		free(R);
		return -1;
	}
	pid_t sup = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		free(R);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != sup) _exit(0);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGALRM, &sa, NULL);
		sa.sa_handler = SIG_IGN; /* exited children of model processes reap themselves */
		sigaction(SIGCHLD, &sa, NULL);
		close(sv[0]);
		cf_child_loop(sv[1]);
	}
	setpgid(pid, pid);
	close(sv[1]);
	R->pgid = pid;
	cf_live_pgid = pid;
	if (pgid_out) *pgid_out = pid;
	if (cf_began_hook) cf_began_hook(pid);
	R->procs[0].alive = 1;
	R->procs[0].pid = pid;
	R->procs[0].fd = sv[0];
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	R->procs[0].pmfd = open(path, O_RDONLY | O_CLOEXEC);

	struct cf_result *res = cf_xcalloc(1, sizeof *res);
	for (int i = 0; i < nops; i++) {
		if (R->timedout || R->aborted) {
			memset(res, 0, sizeof *res);
			res->obs = -1;
			cf_set(res, 'S', CF_R_TIMEDOUT, "not run: the program timed out earlier");
			emit(ctx, i, &ops[i], res);
			continue;
		}
		if (huge_failed && ops[i].kind == CF_OP_MMAP && ops[i].flags == CF_HUGE_HUGETLB) {
			memset(res, 0, sizeof *res);
			res->obs = -1;
			R->partial = 1;
			cf_set(res, 'S', CF_R_REALUNSUPPORTED, "%s", why);
		} else {
			cf_exec_op(R, i, &ops[i], res);
			if (res->st == 'S' && res->reason == CF_R_REALUNSUPPORTED) R->partial = 1;
		}
		emit(ctx, i, &ops[i], res);
	}
	free(res);

	/* Tear down: the whole group, then every child the subreaper inherited. */
	cf_kill_tree(R);
	for (int p = 0; p < CF_MAX_NAMES; p++)
		if (R->procs[p].alive) cf_drop_proc(R, p);
	/* Blocking waits (a polling loop would steal the one CPU from the dying tree), with
	 * an interval timer so that a process stuck in the kernel cannot hang us. */
	struct itimerval it = {.it_interval = {0, 100000}, .it_value = {0, 100000}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	double until = cf_now_ms() + 2000;
	for (;;) {
		pid_t w = waitpid(-1, NULL, 0);
		if (w > 0) continue;
		if (errno == ECHILD || cf_now_ms() > until) break;
		if (R->pgid > 0) kill(-R->pgid, SIGKILL); /* EINTR: a tick of the timer */
	}
	setitimer(ITIMER_REAL, &off, NULL);
	cf_live_pgid = 0;
	cf_restore_knobs();
	for (int k = 0; k < CF_MAX_NAMES; k++) {
		if (R->pipes[k].rfd >= 0) close(R->pipes[k].rfd);
		if (R->pipes[k].wfd >= 0) close(R->pipes[k].wfd);
	}
	close(cf_file_fd);
	close(cf_scratch_fd);
	cf_file_fd = cf_scratch_fd = -1;
	if (run_out) *run_out = R;
	else free(R);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Start-up: what this machine lets us do, and the bit-34 self-test. */

static void cf_pin_cpu(int cpu)
{
	if (cpu < 0) cpu = sched_getcpu();
	if (cpu < 0) cpu = 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) == 0) cf_feat.cpu = cpu;
	else cf_feat.cpu = -1;
}

static uint64_t cf_pm_entry(int pmfd, const void *a)
{
	uint64_t e = 0;
	if (pread(pmfd, &e, 8, (off_t)((uintptr_t)a / CF_PAGE * 8)) != 8) return 0;
	return e;
}

static uint64_t cf_kflags(uint64_t pfn)
{
	uint64_t f = 0;
	if (cf_kpf_fd < 0 || pread(cf_kpf_fd, &f, 8, (off_t)(pfn * 8)) != 8) return 0;
	return f;
}

static void cf_selftest(void)
{
	char b[256];
	cf_feat.root = geteuid() == 0;
	cf_kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	cf_kpc_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	cf_feat.kpf = cf_kpf_fd >= 0 && cf_kpc_fd >= 0;
	cf_feat.thp = cf_read_file("/sys/kernel/mm/transparent_hugepage/enabled", b, sizeof b) == 0 && !strstr(b, "[never]");
	cf_feat.ksm = access(CF_KSM_DIR "run", W_OK) == 0;
	cf_feat.swap = cf_swap_active();
	cf_feat.hugetlb = access(CF_NR_HUGE, W_OK) == 0 || cf_read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") > 0;
	if (!cf_iobuf) cf_iobuf = aligned_alloc(CF_PAGE, CF_PAGE);

	struct cf_ring ring;
	if (cf_ring_init(&ring, 4) == 0) {
		if (cf_ring_register(&ring, cf_iobuf, CF_PAGE) == 0) cf_feat.uring = 1;
		cf_ring_close(&ring);
	}

	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	unsigned char *m = mmap(NULL, CF_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pm < 0 || m == MAP_FAILED) {
		snprintf(cf_feat.ae_detail, sizeof cf_feat.ae_detail, "no pagemap");
		if (pm >= 0) close(pm);
		return;
	}
	madvise(m, CF_PAGE, MADV_NOHUGEPAGE);
	m[0] = 1;
	uint64_t pfn = cf_pm_entry(pm, m) & PM_PFN_MASK;
	cf_feat.pfn = pfn != 0;
	if (!cf_feat.pfn || !cf_feat.kpf) {
		snprintf(cf_feat.ae_detail, sizeof cf_feat.ae_detail, "PFNs or /proc/kpageflags unreadable (not root?)");
		goto out;
	}
	int fresh = (int)CF_HAS(cf_kflags(pfn), KPF_ANON_EXCLUSIVE);
	int go[2], back[2];
	if (pipe(go) || pipe(back)) goto out;
	pid_t ch = fork();
	if (ch == 0) {
		char x;
		close(go[1]);
		if (read(go[0], &x, 1) != 1) _exit(1);
		m[0] = 2;
		if (write(back[1], "x", 1) != 1) _exit(1);
		if (read(go[0], &x, 1) < 0) _exit(1);
		_exit(0);
	}
	char path[64], x;
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)ch);
	int cpm = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t cpfn = cpm >= 0 ? cf_pm_entry(cpm, m) & PM_PFN_MASK : 0;
	int parent_after = (int)CF_HAS(cf_kflags(pfn), KPF_ANON_EXCLUSIVE);
	int shared = cpfn == pfn;
	int copy_ae = 0, copied = 0;
	if (write(go[1], "x", 1) == 1 && read(back[0], &x, 1) == 1 && cpm >= 0) {
		uint64_t npfn = cf_pm_entry(cpm, m) & PM_PFN_MASK;
		copied = npfn && npfn != pfn;
		copy_ae = copied && CF_HAS(cf_kflags(npfn), KPF_ANON_EXCLUSIVE);
	}
	close(go[1]);
	waitpid(ch, NULL, 0);
	close(go[0]);
	close(back[0]);
	close(back[1]);
	if (cpm >= 0) close(cpm);
	cf_feat.ae = fresh && shared && !parent_after && copied && copy_ae;
	snprintf(cf_feat.ae_detail, sizeof cf_feat.ae_detail,
		 "fresh page AE=%d; after fork shared=%d AE=%d; child's copy=%d AE=%d", fresh, shared, parent_after, copied, copy_ae);
out:
	munmap(m, CF_PAGE);
	close(pm);
}

static int cf_parse_tiers(const char *s)
{
	int t = 0;
	if (strstr(s, "ksm")) t |= CF_TIER_KSM;
	if (strstr(s, "swap")) t |= CF_TIER_SWAP;
	if (strstr(s, "hugetlb")) t |= CF_TIER_HUGETLB;
	return t;
}

static void cf_startup(int cpu)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	cf_install_handlers();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	cf_pin_cpu(cpu);
	cf_selftest();
}

/* ------------------------------------------------------------------------------------ */
/* Server mode: the protocol the Swift backend speaks.
 *   in:   prog NOPS TIERS TIMEOUT_MS HANG_OP THP_ORDER
 *         op KIND P R PAGE PAGES ARG VAL FROM COUNT FLAGS     (NOPS times)
 *   out:  V cowfuzz-real VERSION         once, first
 *         R key=value...                 once, at start-up (features)
 *         B PGID                         a program began
 *         S IDX X|S|F REASON OBS DETAIL  one per op
 *         P IDX P R PAGE PRESENT SWAPPED PFNCLASS EXCL MAPCOUNT FLAGS
 *         D PARTIAL TIMEDOUT MICROSECONDS   the program ended, nothing left behind
 */

static void cf_emit_server(void *ctx, int idx, const struct cf_op *op, const struct cf_result *res)
{
	(void)ctx;
	(void)op;
	char detail[sizeof res->detail];
	snprintf(detail, sizeof detail, "%s", res->detail);
	for (char *q = detail; *q; q++)
		if (*q == '\n') *q = ' ';
	printf("S %d %c %s %d %s\n", idx, res->st, cf_reason_names[res->reason], res->obs, detail);
	for (int k = 0; k < res->ntouch; k++) {
		const struct cf_pstate *s = &res->touch[k];
		printf("P %d %d %d %d %d %d %d %d %lld %u\n", idx, s->p, s->r, s->page, s->present, s->swapped, s->pfncls,
		       s->excl, s->mapcount, s->flags);
	}
}

static void cf_print_features(void)
{
	printf("R root=%d pfn=%d kpageflags=%d ae=%d uring=%d thp=%d ksm=%d swap=%d hugetlb=%d cpu=%d ae_selftest=%s\n",
	       cf_feat.root, cf_feat.pfn, cf_feat.kpf, cf_feat.ae, cf_feat.uring, cf_feat.thp, cf_feat.ksm, cf_feat.swap,
	       cf_feat.hugetlb, cf_feat.cpu, cf_feat.ae_detail);
}

static void cf_server_began(pid_t pgid)
{
	printf("B %d\n", (int)pgid);
	fflush(stdout);
}

int cf_server_main(int argc, char **argv)
{
	int cpu = -1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--cpu") && i + 1 < argc) cpu = atoi(argv[++i]);
	cf_startup(cpu);
	cf_began_hook = cf_server_began;
	/* replace spaces so the R line stays key=value */
	for (char *q = cf_feat.ae_detail; *q; q++)
		if (*q == ' ') *q = '_';
	printf("V cowfuzz-real %d\n", CF_PROTOCOL_VERSION);
	cf_print_features();
	fflush(stdout);
	char line[512];
	struct cf_op *ops = NULL;
	while (fgets(line, sizeof line, stdin)) {
		int nops = 0, tiers = 0, timeout = 0, hang = -1, order = 9;
		if (!strncmp(line, "quit", 4)) break;
		if (sscanf(line, "prog %d %d %d %d %d", &nops, &tiers, &timeout, &hang, &order) != 5 || nops < 0 || nops > CF_MAX_OPS) {
			printf("E bad header: %s", line);
			fflush(stdout);
			continue;
		}
		ops = cf_xrealloc(ops, sizeof *ops * (size_t)(nops ? nops : 1));
		int ok = 1;
		for (int i = 0; i < nops; i++) {
			struct cf_op *o = &ops[i];
			if (!fgets(line, sizeof line, stdin) ||
			    sscanf(line, "op %d %d %d %d %d %d %d %d %d %d", &o->kind, &o->p, &o->r, &o->page, &o->pages, &o->arg,
				   &o->val, &o->from, &o->count, &o->flags) != 10) {
				ok = 0;
				break;
			}
		}
		if (!ok) {
			printf("E bad op line\n");
			fflush(stdout);
			break;
		}
		struct cf_options opt = {.tiers = tiers, .timeout_ms = timeout, .hang_op = hang, .thp_order = order};
		double t0 = cf_now_ms();
		pid_t pgid = 0;
		struct cf_run *R = NULL;
		if (cf_run_program(ops, nops, &opt, cf_emit_server, NULL, &pgid, &R)) {
			printf("E cannot start a process tree: %s\n", strerror(errno));
			printf("D 1 0 0 0\n");
			fflush(stdout);
			continue;
		}
		printf("D %d %d %.0f %d\n", R->partial, R->timedout, (cf_now_ms() - t0) * 1e3, (int)pgid);
		free(R);
		fflush(stdout);
	}
	free(ops);
	cf_restore_knobs();
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Standalone reproducer: kselftest-style output. */

struct cf_tap {
	const struct cf_program *prog;
	int verbose;
	int n, pass, fail, skip;
};

static void cf_tap_printf(struct cf_tap *T, const char *fmt, ...)
{
	(void)T;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void cf_describe_page(struct cf_tap *T, const struct cf_pstate *s)
{
	if (!s->present) {
		cf_tap_printf(T, "#        p%d r%d[%d]: %s\n", s->p, s->r, s->page, s->swapped ? "swapped out" : "not present");
		return;
	}
	if (!s->pfncls) {
		cf_tap_printf(T, "#        p%d r%d[%d]: present (no frame numbers without root) exclusively-mapped=%d\n", s->p, s->r,
			      s->page, s->excl);
		return;
	}
	cf_tap_printf(T, "#        p%d r%d[%d]: frame #%d mapcount=%lld exclusively-mapped=%d", s->p, s->r, s->page, s->pfncls,
		      s->mapcount, s->excl);
	if (!(s->flags & CF_PF_FLAGS_UNKNOWN)) {
		if (!(s->flags & CF_PF_AE_UNKNOWN)) cf_tap_printf(T, " AnonExclusive=%d", !!(s->flags & CF_PF_AE));
		static const struct { unsigned bit; const char *name; } names[] = {
			{CF_PF_ANON, "anon"}, {CF_PF_ZERO, "zero"}, {CF_PF_KSM, "ksm"}, {CF_PF_THP, "thp"},
			{CF_PF_PMD, "pmd-mapped"}, {CF_PF_HUGETLB, "hugetlb"}, {CF_PF_SWAPCACHE, "swapcache"}};
		int first = 1;
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
			if (s->flags & names[k].bit) {
				cf_tap_printf(T, "%s%s", first ? " [" : ",", names[k].name);
				first = 0;
			}
		if (!first) cf_tap_printf(T, "]");
	}
	cf_tap_printf(T, "\n");
}

static void cf_accept_text(const uint8_t *set, char *out, size_t n)
{
	size_t used = 0;
	out[0] = 0;
	for (int v = 0; v <= CF_CORRUPT && used + 8 < n; v++)
		if (set[v / 8] >> (v % 8) & 1) {
			if (v == CF_CORRUPT) used += (size_t)snprintf(out + used, n - used, "%scorrupt", used ? "," : "");
			else used += (size_t)snprintf(out + used, n - used, "%s%d", used ? "," : "", v);
		}
	if (!used) snprintf(out, n, "nothing");
}

static void cf_emit_tap(void *ctx, int idx, const struct cf_op *op, const struct cf_result *res)
{
	struct cf_tap *T = ctx;
	const char *text = T->prog->texts ? T->prog->texts[idx] : cf_op_names[op->kind];
	if (res->st == 'X') cf_tap_printf(T, "# [%d] %s", idx, text);
	else cf_tap_printf(T, "# [%d] %s -> %s (%s)", idx, text, res->st == 'S' ? "skipped" : "failed",
			   cf_reason_names[res->reason]);
	if (res->detail[0]) cf_tap_printf(T, ": %s", res->detail);
	if (res->obs >= 0) {
		if (res->obs == CF_CORRUPT) cf_tap_printf(T, " => the page does not hold one value");
		else cf_tap_printf(T, " => %d", res->obs);
	}
	cf_tap_printf(T, "\n");
	for (int k = 0; k < res->ntouch; k++) cf_describe_page(T, &res->touch[k]);
	if (T->prog->assumed && (int)strlen(T->prog->assumed) > idx && (T->prog->assumed[idx] == 'X') != (res->st == 'X'))
		cf_tap_printf(T, "# note: [%d] %s here but %s where this file was made: the oracle's sets may not apply\n", idx,
			      res->st == 'X' ? "ran" : "did not run", T->prog->assumed[idx] == 'X' ? "ran" : "did not run");
	int observing = op->kind == CF_OP_READ || op->kind == CF_OP_READPIN || op->kind == CF_OP_READPIPE;
	if (!observing) return;
	T->n++;
	if (res->obs < 0) {
		T->skip++;
		cf_tap_printf(T, "ok %d [%d] %s # SKIP %s\n", T->n, idx, text,
			      res->detail[0] ? res->detail : cf_reason_names[res->reason]);
		return;
	}
	if (!T->prog->has_accept || !T->prog->has_accept[idx]) {
		T->pass++;
		cf_tap_printf(T, "ok %d [%d] %s = %d # no oracle set embedded\n", T->n, idx, text, res->obs);
		return;
	}
	const uint8_t *set = T->prog->accept[idx];
	char acc[256];
	cf_accept_text(set, acc, sizeof acc);
	if (set[res->obs / 8] >> (res->obs % 8) & 1) {
		T->pass++;
		cf_tap_printf(T, "ok %d [%d] %s = %d (the oracle accepts %s)\n", T->n, idx, text, res->obs, acc);
	} else {
		T->fail++;
		cf_tap_printf(T, "not ok %d [%d] %s = %d but the oracle accepts only %s\n", T->n, idx, text, res->obs, acc);
	}
}

int cf_standalone_main(const struct cf_program *prog, int argc, char **argv)
{
	int cpu = -1, tiers = CF_TIER_KSM | CF_TIER_SWAP | CF_TIER_HUGETLB, timeout = 10000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cpu") && i + 1 < argc) cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--tiers") && i + 1 < argc) tiers = cf_parse_tiers(argv[++i]);
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) timeout = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--cpu N] [--tiers ksm,swap,hugetlb] [--timeout-ms MS]\n", argv[0]);
			return 2;
		}
	}
	cf_startup(cpu);
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct utsname u;
	uname(&u);
	printf("TAP version 13\n");
	printf("# cowfuzz reproducer%s%s\n", prog->name ? ": " : "", prog->name ? prog->name : "");
	printf("# kernel %s %s %s\n", u.sysname, u.release, u.machine);
	printf("# root=%d pfns=%d kpageflags=%d io_uring=%d thp=%d cpu=%d\n", cf_feat.root, cf_feat.pfn, cf_feat.kpf,
	       cf_feat.uring, cf_feat.thp, cf_feat.cpu);
	printf("# PageAnonExclusive self-test (kpageflags bit 34): %s (%s)\n", cf_feat.ae ? "ok" : "disabled",
	       cf_feat.ae_detail);
	int nobs = 0;
	for (int i = 0; i < prog->nops; i++)
		if (prog->ops[i].kind == CF_OP_READ || prog->ops[i].kind == CF_OP_READPIN || prog->ops[i].kind == CF_OP_READPIPE)
			nobs++;
	printf("1..%d\n", nobs);
	struct cf_tap T;
	memset(&T, 0, sizeof T);
	T.prog = prog;
	struct cf_options opt = {.tiers = tiers, .timeout_ms = timeout, .hang_op = -1, .thp_order = prog->thp_order};
	struct cf_run *R = NULL;
	pid_t pgid = 0;
	int rc = cf_run_program(prog->ops, prog->nops, &opt, cf_emit_tap, &T, &pgid, &R);
	if (rc) {
		printf("Bail out! cannot start a process tree: %s\n", strerror(errno));
		return 4;
	}
	if (R->partial) printf("# the program ran partially: some ops cannot run on this kernel (see above)\n");
	if (R->timedout) {
		printf("# the program timed out; its process tree was killed\n");
		T.fail++;
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:%d\n", T.pass, T.fail - R->timedout, T.skip,
	       R->timedout);
	free(R);
	return T.fail ? 1 : 0;
}
