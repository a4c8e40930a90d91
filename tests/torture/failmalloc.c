/* Test-only allocation fault injection for make check-torture, loaded
 * with LD_PRELOAD into the built binary (like SQLite's malloc tests, but
 * from outside, so that the core needs no allocation wrapper of its own).
 *
 * An allocation point is the call site in the program's own code that
 * led to the allocation: the innermost frame inside the main executable,
 * so that json_object() or strdup() called from our code count as that
 * call, wherever the bytes are actually allocated.
 *   ADPART_TORTURE_LOG=FILE    record mode: append each point, once, in
 *                              the order first reached (hex offset)
 *   ADPART_TORTURE_FAIL=OFFSET the first allocation from that point
 *                              returns NULL with errno ENOMEM
 * Only in a program named adpart-update: the shells and hooks that
 * inherit LD_PRELOAD allocate normally.
 * Never linked into the program or installed. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static uintptr_t exe_lo, exe_hi, exe_base;
static int mode; /* 0 off, 1 record, 2 fail */
static uintptr_t fail_at;
static int failed, log_fd = -1;
static _Thread_local int inside;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

#define MAX_SEEN 65536
static uintptr_t seen[MAX_SEEN]; /* open addressing, 0 = empty */

static int find_exe(struct dl_phdr_info *info, size_t size, void *data)
{
	int i;

	(void)size;
	(void)data;
	/* The first object is the program itself. */
	exe_base = info->dlpi_addr;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (!exe_lo || lo < exe_lo)
			exe_lo = lo;
		if (hi > exe_hi)
			exe_hi = hi;
	}
	return 1;
}

__attribute__((constructor)) static void init(void)
{
	const char *f = getenv("ADPART_TORTURE_FAIL"), *l = getenv("ADPART_TORTURE_LOG");
	void *warm[2];

	if (strcmp(program_invocation_short_name, "adpart-update"))
		return;
	inside = 1;
	dl_iterate_phdr(find_exe, NULL);
	backtrace(warm, 2); /* loads the unwinder now, not inside malloc */
	if (l && *l && (log_fd = open(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) >= 0)
		mode = 1;
	else if (f && *f) {
		fail_at = (uintptr_t)strtoull(f, NULL, 16);
		mode = 2;
	}
	inside = 0;
}

/* The allocation point of the current call, or 0 when no frame is ours
 * (the loader, libraries on their own account). */
static uintptr_t point(void)
{
	void *frames[48];
	int n, i;

	n = backtrace(frames, 48);
	for (i = 1; i < n; i++) {
		uintptr_t pc = (uintptr_t)frames[i];

		if (pc >= exe_lo && pc < exe_hi)
			return pc - exe_base;
	}
	return 0;
}

static int first_time(uintptr_t p)
{
	size_t h = (size_t)(p * 0x9E3779B97F4A7C15ull) % MAX_SEEN, k;

	for (k = 0; k < MAX_SEEN; k++, h = (h + 1) % MAX_SEEN) {
		if (seen[h] == p)
			return 0;
		if (!seen[h]) {
			seen[h] = p;
			return 1;
		}
	}
	return 0;
}

/* Non-zero when this allocation must fail. */
static int must_fail(void)
{
	uintptr_t p;
	int fail = 0;

	if (!mode || inside || (mode == 2 && failed))
		return 0;
	inside = 1;
	p = point();
	if (p) {
		pthread_mutex_lock(&mu);
		if (mode == 1 && first_time(p)) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%lx\n", (unsigned long)p);

			if (write(log_fd, line, (size_t)len) < 0)
				mode = 0;
		} else if (mode == 2 && p == fail_at && !failed) {
			failed = 1;
			fail = 1;
		}
		pthread_mutex_unlock(&mu);
	}
	inside = 0;
	return fail;
}

void *malloc(size_t n)
{
	if (must_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (must_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (n && must_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}
