/* The component profiler: samples chosen processes (and their threads)
 * from /proc and cgroup files, groups them into components, and writes
 * the canonical long history CSV (timestamp,component,resource,value)
 * that `plan` reads, plus an optional Prometheus textfile for
 * node_exporter's textfile collector.
 *
 * Per component and sample: cpu (cores: CPU seconds per second of its
 * processes), memory (resident bytes), io (disk read+write bytes per
 * second, /proc/PID/io), and net (bytes per second received and sent)
 * when its processes live in network namespaces of their own: the
 * kernel counts traffic per namespace, not per process. */
#ifndef ADP_PROFILER_H
#define ADP_PROFILER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/resource.h"

#define PROF_MAX_SELECTORS 256
#define PROF_MAX_PROCS 65536
#define PROF_MAX_COMPONENTS 4096

enum prof_group {
	PROF_GROUP_NAME,   /* process name (comm) */
	PROF_GROUP_CGROUP, /* last element of the process's cgroup path */
	PROF_GROUP_USER,   /* user name */
	PROF_GROUP_PID,    /* name-PID: one component per process */
	PROF_GROUP_FIXED,  /* everything selected is one component */
};

struct prof_opts {
	const char *const *cgroups; /* cgroup directories (v2, or a v1 controller's) */
	size_t ncgroups;
	const pid_t *pids;
	size_t npids;
	const char *const *names;   /* fnmatch(3) patterns on the name or argv[0] */
	size_t nnames;
	int group;                  /* enum prof_group */
	const char *component;      /* PROF_GROUP_FIXED: the name */
	int threads;                /* also sample each thread (textfile) */
	const char *proc_root;      /* NULL: "/proc" (tests) */
};

/* One process as last sampled. */
struct prof_proc {
	pid_t pid;
	unsigned long long start;   /* start time in ticks: tells reused PIDs apart */
	unsigned long long ticks;   /* utime + stime */
	unsigned long long io;      /* read_bytes + write_bytes; 0 if unreadable */
	int has_io, fresh, seen;
	char comm[64];
	char component[129];
	char user[64];
	char *cmdline;              /* owned; NUL bytes replaced by spaces */
	unsigned long long netns;
	double cpu, rss, io_rate;   /* the last sample's figures */
	size_t nthreads;
	struct prof_thread *threads; /* owned */
	int fd_stat, fd_io;         /* kept open between samples; -1: none */
};

struct prof_thread {
	pid_t tid;
	unsigned long long ticks;
	double cpu;
	char comm[64];
};

struct prof_component {
	char name[129];
	double v[ADP_RES_COUNT];
	int has[ADP_RES_COUNT];
	size_t nprocs;
};

struct profiler;

/* Checks opts and starts a profiler; the opts' arrays are copied. */
int profiler_new(struct profiler **out, const struct prof_opts *o);
void profiler_free(struct profiler *p);

/* Takes one sample at wall time now (seconds) and monotonic time mono
 * (seconds, for rates). The first sample is a baseline: rates need two.
 * *ready is set to 1 when components hold figures. */
int profiler_sample(struct profiler *p, int64_t now, double mono, int *ready);

/* Borrowed views of the last sample. */
const struct prof_component *profiler_components(const struct profiler *p, size_t *n);
const struct prof_proc *profiler_procs(const struct profiler *p, size_t *n);

/* Appends the last sample as long CSV rows (no header) to out, a
 * NUL-terminated growable string (see util/buf.h). */
struct adp_buf;
int profiler_csv(const struct profiler *p, struct adp_buf *out);

/* Writes the last sample in the Prometheus text format, atomically. */
int profiler_textfile(const struct profiler *p, const char *path);

/* A history CSV written sample by sample, rotated by size or age: the
 * full file is renamed to PATH-YYYYMMDDTHHMMSSZ.csv (by its first
 * sample) and a new one started with the header. */
struct prof_writer {
	char *path;              /* owned */
	uint64_t rotate_size;    /* bytes; 0: never */
	int64_t rotate_age;      /* seconds; 0: never */
	int fd;
	uint64_t size;
	int64_t opened_at;       /* first sample's time in the current file */
};

int prof_writer_open(struct prof_writer *w, const char *path, uint64_t rotate_size,
		     int64_t rotate_age);
/* Appends rows (complete lines, borrowed) taken at now, rotating first
 * when due. */
int prof_writer_add(struct prof_writer *w, const char *rows, size_t len, int64_t now);
void prof_writer_close(struct prof_writer *w);

#endif
