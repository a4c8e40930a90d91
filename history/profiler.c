#include "history/profiler.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "history/history.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#define CMDLINE_MAX 1024
/* Room for "/PID/task/TID/stat" (a TID is a directory name, at most
 * NAME_MAX) after the proc root. */
#define PROC_ROOT_MAX (PATH_MAX - NAME_MAX - 64)
#define MAX_THREADS_PER_PROC 4096

struct netns_acc {
	unsigned long long ino;
	unsigned long long bytes;   /* rx + tx now */
	unsigned long long prev;
	int has_prev;
	char component[129];
};

/* A process seen and not chosen, kept open so that it is not examined
 * again while it lives (a reused PID fails the read and is new). */
struct prof_reject {
	pid_t pid;
	int fd;
};

struct profiler {
	struct prof_opts o;
	char **cgroups, **names;
	pid_t *pids;
	char proc[PROC_ROOT_MAX]; /* bounded, so that every path under it fits PATH_MAX */
	long hz;
	long page;
	unsigned long long own_netns;
	struct prof_proc *procs;
	size_t nprocs, aprocs;
	struct prof_component *comps;
	size_t ncomps;
	struct netns_acc *ns;
	size_t nns;
	struct prof_reject *rej;
	size_t nrej;
	long cached_uid;            /* last user looked up, -1: none */
	char cached_user[64];
	double last_mono;
	int64_t last_now;
	int samples;
};

/* Reads a small /proc file whole; -1 when it is gone (process exited). */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)total < size - 1 && (n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

static void free_proc(struct prof_proc *p)
{
	free(p->cmdline);
	free(p->threads);
	if (p->fd_stat >= 0)
		close(p->fd_stat);
	if (p->fd_io >= 0)
		close(p->fd_io);
	p->fd_stat = p->fd_io = -1;
}

static void free_rejects(struct prof_reject *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].fd >= 0)
			close(r[i].fd);
	free(r);
}

/* Reads a kept-open /proc file from the start: one syscall, no lookup. */
static ssize_t read_fd(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Opens and reads; *fd keeps the descriptor (or -1 when out of them). */
static ssize_t open_read(const char *path, int *fd, char *buf, size_t size)
{
	ssize_t n;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return errno == EMFILE || errno == ENFILE ? read_small(path, buf, size) : -1;
	if ((n = read_fd(*fd, buf, size)) < 0) {
		close(*fd);
		*fd = -1;
	}
	return n;
}

void profiler_free(struct profiler *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->o.ncgroups; i++)
		free(p->cgroups[i]);
	for (i = 0; i < p->o.nnames; i++)
		free(p->names[i]);
	free(p->cgroups);
	free(p->names);
	free(p->pids);
	for (i = 0; i < p->nprocs; i++)
		free_proc(&p->procs[i]);
	free(p->procs);
	free(p->comps);
	free(p->ns);
	free_rejects(p->rej, p->nrej);
	free(p);
}

/* Builds PROC/PID/rest (PROC/self/rest for pid 0) into out[PATH_MAX].
 * -1 when it does not fit, which profiler_new's bound on the root rules
 * out: callers then skip the process as one that is gone. Sampling sets
 * no message. */
static int proc_path(char out[PATH_MAX], const char *proc, pid_t pid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int proc_path(char out[PATH_MAX], const char *proc, pid_t pid, const char *fmt, ...)
{
	va_list ap;
	int n, m;

	n = pid ? snprintf(out, PATH_MAX, "%s/%d/", proc, (int)pid) : snprintf(out, PATH_MAX, "%s/self/", proc);
	if (n < 0 || n >= PATH_MAX)
		return -1;
	va_start(ap, fmt);
	m = vsnprintf(out + n, (size_t)(PATH_MAX - n), fmt, ap);
	va_end(ap);
	return m < 0 || m >= PATH_MAX - n ? -1 : 0;
}

static unsigned long long ns_inode(const char *proc, pid_t pid)
{
	char path[PATH_MAX];
	struct stat st;

	if (proc_path(path, proc, pid, "ns/net"))
		return 0;
	return stat(path, &st) ? 0 : (unsigned long long)st.st_ino;
}

int profiler_new(struct profiler **out, const struct prof_opts *o)
{
	struct profiler *p;
	size_t i;
	int rc = 0;

	if (!o->ncgroups && !o->npids && !o->nnames)
		return adp_error_set(ADP_EINPUT, "choose processes: give a cgroup, a pid or a name pattern");
	if (o->ncgroups > PROF_MAX_SELECTORS || o->npids > PROF_MAX_SELECTORS ||
	    o->nnames > PROF_MAX_SELECTORS)
		return adp_error_set(ADP_EINPUT, "at most %d cgroups, pids and name patterns each",
				     PROF_MAX_SELECTORS);
	if (o->group == PROF_GROUP_FIXED && (!o->component || !history_name_valid(o->component)))
		return adp_error_set(ADP_EINPUT, "component '%s' is not a valid name: expected 1 to %d of A-Z a-z 0-9 . _ -",
				     o->component ? o->component : "", ADP_HISTORY_MAX_NAME);
	if (!(p = calloc(1, sizeof(*p))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->o = *o;
	if ((rc = adp_snprintf_path(p->proc, sizeof(p->proc), "%s", o->proc_root ? o->proc_root : "/proc"))) {
		adp_error_wrap(rc, "proc root");
		goto done;
	}
	p->hz = sysconf(_SC_CLK_TCK);
	p->page = sysconf(_SC_PAGESIZE);
	p->own_netns = ns_inode(p->proc, 0);
	p->cached_uid = -1;
	if ((o->ncgroups && !(p->cgroups = calloc(o->ncgroups, sizeof(char *)))) ||
	    (o->nnames && !(p->names = calloc(o->nnames, sizeof(char *)))) ||
	    (o->npids && !(p->pids = calloc(o->npids, sizeof(pid_t))))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < o->ncgroups; i++) {
		char path[PATH_MAX];
		struct stat st;

		if ((rc = adp_snprintf_path(path, sizeof(path), "%s/cgroup.procs", o->cgroups[i]))) {
			adp_error_wrap(rc, "cgroup");
			goto done;
		}
		if (stat(path, &st)) {
			rc = adp_error_set(ADP_EINPUT, "cgroup '%s' cannot be read: %s: expected a cgroup directory such as /sys/fs/cgroup/system.slice/nginx.service",
					   o->cgroups[i], strerror(errno));
			goto done;
		}
		if (!(p->cgroups[i] = strdup(o->cgroups[i]))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
	}
	for (i = 0; i < o->nnames; i++)
		if (!(p->names[i] = strdup(o->names[i]))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
	for (i = 0; i < o->npids; i++) {
		if (o->pids[i] <= 0) {
			rc = adp_error_set(ADP_EINPUT, "pid %d is not a process id", (int)o->pids[i]);
			goto done;
		}
		p->pids[i] = o->pids[i];
	}
	p->o.cgroups = (const char *const *)p->cgroups;
	p->o.names = (const char *const *)p->names;
	p->o.pids = p->pids;
	*out = p;
	p = NULL;
done:
	if (p) {
		p->o.ncgroups = p->cgroups ? o->ncgroups : 0;
		p->o.nnames = p->names ? o->nnames : 0;
		profiler_free(p);
	}
	return rc;
}

/* Parses /proc/PID/stat: comm is in parentheses and may hold anything. */
static int parse_stat(const char *buf, char comm[64], unsigned long long *ticks,
		      unsigned long long *start, unsigned long long *rss)
{
	const char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	unsigned long long ut, st, sta, rs;
	size_t n;

	if (!l || !r || r < l)
		return -1;
	n = (size_t)(r - l - 1);
	if (n > 63)
		n = 63;
	memcpy(comm, l + 1, n);
	comm[n] = '\0';
	/* After ") ": state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24) */
	if (sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %llu",
		   &ut, &st, &sta, &rs) != 4)
		return -1;
	*ticks = ut + st;
	*start = sta;
	*rss = rs;
	return 0;
}

/* A component name from free text: invalid characters become '_'. */
static void sanitize(char out[129], const char *in)
{
	size_t i, n = strlen(in);

	if (n > 128)
		n = 128;
	for (i = 0; i < n; i++)
		out[i] = isalnum((unsigned char)in[i]) || strchr("._-", in[i]) ? in[i] : '_';
	out[n] = '\0';
	if (!n)
		snprintf(out, 129, "unnamed");
}

static int name_matches(const struct profiler *p, const char *comm, const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	size_t i;

	base = base ? base + 1 : argv0;
	for (i = 0; i < p->o.nnames; i++)
		if (!fnmatch(p->o.names[i], comm, 0) || (*base && !fnmatch(p->o.names[i], base, 0)))
			return 1;
	return 0;
}

static int fnmatch_any(const struct profiler *p, const char *comm)
{
	size_t i;

	for (i = 0; i < p->o.nnames; i++)
		if (!fnmatch(p->o.names[i], comm, 0))
			return 1;
	return 0;
}

static void cgroup_leaf(const struct profiler *p, pid_t pid, char out[129])
{
	char path[PATH_MAX], buf[4096], *line, *save = NULL, *best = NULL;

	if (proc_path(path, p->proc, pid, "cgroup") || read_small(path, buf, sizeof(buf)) <= 0) {
		snprintf(out, 129, "unknown");
		return;
	}
	/* The v2 line ("0::/path") or else the memory controller's. */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c = strchr(line, ':'), *path2 = c ? strchr(c + 1, ':') : NULL;

		if (!path2)
			continue;
		if (!strncmp(line, "0::", 3) && strcmp(path2 + 1, "/")) {
			best = path2 + 1;
			break;
		}
		if (strstr(line, ":memory:") && strcmp(path2 + 1, "/"))
			best = path2 + 1;
	}
	if (!best) {
		snprintf(out, 129, "root");
		return;
	}
	{
		char *leaf = strrchr(best, '/');
		sanitize(out, leaf && leaf[1] ? leaf + 1 : best);
	}
}

static struct prof_proc *find_proc(struct profiler *p, pid_t pid)
{
	size_t lo = 0, hi = p->nprocs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->procs[mid].pid == pid)
			return &p->procs[mid];
		if (p->procs[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct prof_proc *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_pid(const void *a, const void *b);

static struct prof_reject *find_reject(struct profiler *p, pid_t pid)
{
	struct prof_reject key = { pid, -1 };

	return p->nrej ? bsearch(&key, p->rej, p->nrej, sizeof(key), cmp_pid) : NULL;
}

static int cmp_pid(const void *a, const void *b)
{
	const pid_t *x = a, *y = b;
	return (*x > *y) - (*x < *y);
}

/* Appends the PIDs of one cgroup to the candidate list. */
static int add_cgroup_pids(const char *dir, pid_t **cand, size_t *n, size_t *alloc)
{
	char path[PATH_MAX], line[32];
	FILE *f;
	int rc = 0;

	if ((rc = adp_snprintf_path(path, sizeof(path), "%s/cgroup.procs", dir)))
		return adp_error_wrap(rc, "cgroup");
	if (!(f = fopen(path, "re")))
		return adp_error_set(ADP_ESYS, "cannot read cgroup '%s': %s", dir, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		long v = strtol(line, NULL, 10);

		if (v <= 0)
			continue;
		if (*n == *alloc) {
			size_t na = *alloc ? *alloc * 2 : 256;
			pid_t *g;

			if (na > PROF_MAX_PROCS * 2 || !(g = realloc(*cand, na * sizeof(*g)))) {
				rc = adp_error_set(ADP_ENOMEM, "cgroup '%s' holds too many processes", dir);
				break;
			}
			*cand = g;
			*alloc = na;
		}
		(*cand)[(*n)++] = (pid_t)v;
	}
	fclose(f);
	return rc;
}

static void proc_meta(struct profiler *p, struct prof_proc *pr)
{
	char path[PATH_MAX], buf[CMDLINE_MAX + 1];
	ssize_t n, i;
	struct stat st;

	n = proc_path(path, p->proc, pr->pid, "cmdline") ? -1 : read_small(path, buf, sizeof(buf));
	for (i = 0; i < n; i++)
		if (buf[i] == '\0' || buf[i] == '\n')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	free(pr->cmdline);
	pr->cmdline = strdup(n > 0 ? buf : "");
	pr->user[0] = '\0';
	if (proc_path(path, p->proc, pr->pid, "."))
		return;
	if (!stat(path, &st) && (long)st.st_uid == p->cached_uid) {
		snprintf(pr->user, sizeof(pr->user), "%s", p->cached_user);
	} else if (!stat(path, &st)) {
		struct passwd pw, *res = NULL;
		char pwbuf[1024];

		/* The password database is a file read per lookup: remember the last.
		 * A label, not a path: a name past 63 bytes (useradd allows 32) is cut. */
		if (!getpwuid_r(st.st_uid, &pw, pwbuf, sizeof(pwbuf), &res) && res)
			snprintf(pr->user, sizeof(pr->user), "%s", pw.pw_name);
		else
			snprintf(pr->user, sizeof(pr->user), "%u", (unsigned)st.st_uid);
		p->cached_uid = (long)st.st_uid;
		snprintf(p->cached_user, sizeof(p->cached_user), "%s", pr->user);
	}
}

static void sample_threads(struct profiler *p, struct prof_proc *pr, double dt)
{
	char path[PATH_MAX], buf[1024];
	struct prof_thread *old = pr->threads, *cur = NULL;
	size_t nold = pr->nthreads, n = 0, i;
	struct dirent *de;
	DIR *d;

	if (proc_path(path, p->proc, pr->pid, "task") || !(d = opendir(path)))
		return;
	if (!(cur = calloc(MAX_THREADS_PER_PROC, sizeof(*cur)))) {
		closedir(d);
		return;
	}
	while ((de = readdir(d)) && n < MAX_THREADS_PER_PROC) {
		unsigned long long ticks, start, rss;
		struct prof_thread *t = &cur[n];

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (proc_path(path, p->proc, pr->pid, "task/%s/stat", de->d_name) ||
		    read_small(path, buf, sizeof(buf)) <= 0 ||
		    parse_stat(buf, t->comm, &ticks, &start, &rss))
			continue;
		t->tid = (pid_t)atoi(de->d_name);
		t->ticks = ticks;
		t->cpu = -1;
		for (i = 0; i < nold; i++)
			if (old[i].tid == t->tid && dt > 0 && ticks >= old[i].ticks)
				t->cpu = (double)(ticks - old[i].ticks) / (double)p->hz / dt;
		n++;
	}
	closedir(d);
	free(old);
	pr->threads = n ? realloc(cur, n * sizeof(*cur)) : NULL;
	if (n && !pr->threads)
		pr->threads = cur;
	else if (!n)
		free(cur);
	pr->nthreads = n;
}

static struct prof_component *comp_get(struct profiler *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->ncomps; i++)
		if (!strcmp(p->comps[i].name, name))
			return &p->comps[i];
	if (p->ncomps == PROF_MAX_COMPONENTS)
		return NULL;
	memset(&p->comps[p->ncomps], 0, sizeof(p->comps[0]));
	snprintf(p->comps[p->ncomps].name, sizeof(p->comps[0].name), "%s", name);
	return &p->comps[p->ncomps++];
}

/* Network bytes (rx + tx, loopback excluded) of one namespace, read
 * through a process in it. */
static int netns_bytes(const struct profiler *p, pid_t pid, unsigned long long *out)
{
	char path[PATH_MAX], buf[16384], *line, *save = NULL;
	unsigned long long total = 0;
	int lineno = 0;

	if (proc_path(path, p->proc, pid, "net/dev") || read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		unsigned long long rx, tx;

		if (++lineno <= 2 || !colon)
			continue;
		*colon = '\0';
		while (*line == ' ')
			line++;
		if (!strcmp(line, "lo"))
			continue;
		if (sscanf(colon + 1, "%llu %*u %*u %*u %*u %*u %*u %*u %llu", &rx, &tx) == 2)
			total += rx + tx;
	}
	*out = total;
	return 0;
}

/* Appends pid to the candidate list, growing it. */
static int cand_push(pid_t **cand, size_t *n, size_t *alloc, pid_t pid, size_t max)
{
	if (*n == *alloc) {
		size_t na = *alloc ? *alloc * 2 : 256;
		pid_t *g;

		if (na > max || !(g = realloc(*cand, na * sizeof(*g))))
			return adp_error_set(ADP_ENOMEM, "out of memory listing processes");
		*cand = g;
		*alloc = na;
	}
	(*cand)[(*n)++] = pid;
	return 0;
}

/* Candidates, sorted: listed PIDs, cgroup members (also returned sorted
 * in *cg, to tell them apart), and every PID when names are matched. */
static int gather_candidates(struct profiler *p, pid_t **cand, size_t *ncand, pid_t **cg, size_t *ncg)
{
	size_t acand = 0, i;
	struct dirent *de;
	DIR *d;
	int rc;

	for (i = 0; i < p->o.ncgroups; i++)
		if ((rc = add_cgroup_pids(p->o.cgroups[i], cand, ncand, &acand)))
			return rc;
	if (*ncand) {
		if (!(*cg = malloc(*ncand * sizeof(**cg))))
			return adp_error_set(ADP_ENOMEM, "out of memory");
		memcpy(*cg, *cand, *ncand * sizeof(**cg));
		*ncg = *ncand;
		qsort(*cg, *ncg, sizeof(**cg), cmp_pid);
	}
	for (i = 0; i < p->o.npids; i++)
		if ((rc = cand_push(cand, ncand, &acand, p->o.pids[i], SIZE_MAX / sizeof(pid_t))))
			return rc;
	if (p->o.nnames) {
		if (!(d = opendir(p->proc)))
			return adp_error_set(ADP_ESYS, "cannot list '%s': %s", p->proc, strerror(errno));
		/* Past the cap the rest of /proc is left out, not an error. */
		while ((de = readdir(d)))
			if (isdigit((unsigned char)de->d_name[0]) &&
			    cand_push(cand, ncand, &acand, (pid_t)atoi(de->d_name), PROF_MAX_PROCS * 2))
				break;
		closedir(d);
	}
	if (*ncand)
		qsort(*cand, *ncand, sizeof(**cand), cmp_pid);
	return 0;
}

/* Whether pid is one the options choose; the command line is read once,
 * and a PID rejected before (known == 2) stays rejected. */
static int is_chosen(struct profiler *p, pid_t pid, const char *comm, const struct prof_proc *old, int known,
		     const pid_t *cg, size_t ncg)
{
	char path[PATH_MAX], argv0[256] = "";
	size_t j;

	for (j = 0; j < p->o.npids; j++)
		if (p->o.pids[j] == pid)
			return 1;
	if (ncg && bsearch(&pid, cg, ncg, sizeof(*cg), cmp_pid))
		return 1;
	if (!p->o.nnames)
		return 0;
	if (old)
		return 1;
	if (known == 2)
		return 0;
	if (fnmatch_any(p, comm))
		return 1;
	if (proc_path(path, p->proc, pid, "cmdline"))
		return 0;
	return read_small(path, argv0, sizeof(argv0)) >= 0 && name_matches(p, comm, argv0);
}

/* A newly chosen process: metadata and the component it counts for. */
static void proc_new(struct profiler *p, struct prof_proc *pr, pid_t pid, unsigned long long start,
		     const char *comm, int fd)
{
	char tmp[160];

	memset(pr, 0, sizeof(*pr));
	pr->fd_stat = fd;
	pr->fd_io = -1;
	pr->pid = pid;
	pr->start = start;
	pr->fresh = 1;
	snprintf(pr->comm, sizeof(pr->comm), "%s", comm);
	proc_meta(p, pr);
	pr->netns = ns_inode(p->proc, pr->pid);
	switch (p->o.group) {
	case PROF_GROUP_NAME: sanitize(pr->component, comm); break;
	case PROF_GROUP_CGROUP: cgroup_leaf(p, pr->pid, pr->component); break;
	case PROF_GROUP_USER: sanitize(pr->component, pr->user); break;
	case PROF_GROUP_PID:
		snprintf(tmp, sizeof(tmp), "%s-%d", comm, (int)pr->pid); /* 63 + 12 bytes at most */
		sanitize(pr->component, tmp);
		break;
	default: snprintf(pr->component, sizeof(pr->component), "%s", p->o.component);
	}
}

/* Disk bytes read and written per second from /proc/PID/io (-1 when the
 * kernel does not say, or on the first sample). */
static void sample_io(struct profiler *p, struct prof_proc *pr, const struct prof_proc *old, double dt)
{
	unsigned long long rb = 0, wb = 0, io;
	char path[PATH_MAX], buf[2048], *q;
	ssize_t n;
	int got = 0;

	if (pr->fd_io >= 0) {
		n = read_fd(pr->fd_io, buf, sizeof(buf));
	} else {
		n = proc_path(path, p->proc, pr->pid, "io") ? -1 : open_read(path, &pr->fd_io, buf, sizeof(buf));
	}
	if (n > 0) {
		if ((q = strstr(buf, "\nread_bytes:")))
			got += sscanf(q, "\nread_bytes: %llu", &rb);
		if ((q = strstr(buf, "\nwrite_bytes:")))
			got += sscanf(q, "\nwrite_bytes: %llu", &wb);
	}
	io = rb + wb;
	pr->io_rate = got == 2 && old && old->has_io && dt > 0 && io >= old->io ? (double)(io - old->io) / dt : -1;
	pr->has_io = got == 2;
	pr->io = io;
}

/* Samples one candidate into fresh (chosen) or rej (rejected, its
 * descriptor kept so the next sample need not look again). */
static void sample_one(struct profiler *p, pid_t pid, double dt, const pid_t *cg, size_t ncg,
		       struct prof_proc *fresh, size_t *nfresh, struct prof_reject *rej, size_t *nrej)
{
	struct prof_proc *pr, *old = find_proc(p, pid);
	struct prof_reject *was = find_reject(p, pid);
	unsigned long long ticks, start, rss;
	char path[PATH_MAX], buf[2048], comm[64];
	int fd = -1, known = 0;
	ssize_t n;

	if (old && old->fd_stat >= 0) {
		n = read_fd(old->fd_stat, buf, sizeof(buf));
		known = 1;
	} else if (was && was->fd >= 0) {
		n = read_fd(was->fd, buf, sizeof(buf));
		known = 2;
	} else {
		n = proc_path(path, p->proc, pid, "stat") ? -1 : open_read(path, &fd, buf, sizeof(buf));
	}
	if (n <= 0 || parse_stat(buf, comm, &ticks, &start, &rss)) {
		if (fd >= 0)
			close(fd);
		return; /* gone */
	}
	if (old && old->start != start)
		old = NULL; /* a reused PID */
	if (!is_chosen(p, pid, comm, old, known, cg, ncg)) {
		if (p->o.nnames && (fd >= 0 || known == 2)) {
			rej[*nrej].pid = pid;
			rej[*nrej].fd = known == 2 ? was->fd : fd;
			if (known == 2)
				was->fd = -1;
			(*nrej)++;
		} else if (fd >= 0) {
			close(fd);
		}
		return;
	}
	if (known == 2 && was->fd >= 0) {
		close(was->fd);
		was->fd = -1;
	}
	pr = &fresh[(*nfresh)++];
	if (old) {
		/* Move old's state and descriptors into the new list. */
		*pr = *old;
		old->cmdline = NULL;
		old->threads = NULL;
		old->nthreads = 0;
		old->fd_stat = old->fd_io = -1;
		if (fd >= 0) {
			if (pr->fd_stat >= 0)
				close(pr->fd_stat);
			pr->fd_stat = fd;
		}
	} else {
		proc_new(p, pr, pid, start, comm, fd);
	}
	pr->cpu = old && dt > 0 && ticks >= old->ticks ? (double)(ticks - old->ticks) / (double)p->hz / dt : -1;
	pr->ticks = ticks;
	pr->rss = (double)rss * (double)p->page;
	sample_io(p, pr, old, dt);
	if (p->o.threads)
		sample_threads(p, pr, dt);
}

/* Sums the processes into their components. */
static int sum_components(struct profiler *p)
{
	size_t i;

	if (!p->comps && !(p->comps = calloc(PROF_MAX_COMPONENTS, sizeof(*p->comps))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->ncomps = 0;
	for (i = 0; i < p->nprocs; i++) {
		struct prof_proc *pr = &p->procs[i];
		struct prof_component *c = comp_get(p, pr->component);

		if (!c)
			continue;
		c->nprocs++;
		c->v[ADP_RES_MEMORY] += pr->rss;
		c->has[ADP_RES_MEMORY] = 1;
		if (pr->cpu >= 0) {
			c->v[ADP_RES_CPU] += pr->cpu;
			c->has[ADP_RES_CPU] = 1;
		}
		if (pr->io_rate >= 0) {
			c->v[ADP_RES_IO] += pr->io_rate;
			c->has[ADP_RES_IO] = 1;
		}
	}
	return 0;
}

/* Network, per namespace of its own (not the host's), credited to the
 * component of the first process seen in it. */
static void sample_net(struct profiler *p, double dt)
{
	size_t i, j;

	for (i = 0; i < p->nns; i++)
		p->ns[i].has_prev = p->ns[i].has_prev > 0 ? 2 : 0; /* 2: not yet seen this sample */
	for (i = 0; i < p->nprocs; i++) {
		struct prof_proc *pr = &p->procs[i];
		struct netns_acc *ns = NULL;
		unsigned long long bytes;

		if (!pr->netns || pr->netns == p->own_netns)
			continue;
		for (j = 0; j < p->nns; j++)
			if (p->ns[j].ino == pr->netns)
				ns = &p->ns[j];
		if (ns && ns->has_prev == 1)
			continue; /* already read this sample */
		if (netns_bytes(p, pr->pid, &bytes))
			continue;
		if (!ns) {
			struct netns_acc *g = realloc(p->ns, (p->nns + 1) * sizeof(*g));
			if (!g)
				continue;
			p->ns = g;
			ns = &p->ns[p->nns++];
			memset(ns, 0, sizeof(*ns));
			ns->ino = pr->netns;
			snprintf(ns->component, sizeof(ns->component), "%s", pr->component);
		} else if (ns->has_prev == 2 && dt > 0 && bytes >= ns->bytes) {
			struct prof_component *c = comp_get(p, ns->component);
			if (c) {
				c->v[ADP_RES_NET] += (double)(bytes - ns->bytes) / dt;
				c->has[ADP_RES_NET] = 1;
			}
		}
		ns->bytes = bytes;
		ns->has_prev = 1;
	}
}

int profiler_sample(struct profiler *p, int64_t now, double mono, int *ready)
{
	pid_t *cand = NULL, *cg = NULL;
	size_t ncand = 0, ncg = 0, nfresh = 0, nrej = 0, i;
	double dt = p->samples ? mono - p->last_mono : 0;
	struct prof_proc *fresh = NULL;
	struct prof_reject *rej = NULL;
	int rc;

	if ((rc = gather_candidates(p, &cand, &ncand, &cg, &ncg)))
		goto done;
	if (!(fresh = calloc(ncand ? ncand : 1, sizeof(*fresh))) ||
	    !(rej = calloc(ncand ? ncand : 1, sizeof(*rej)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < ncand; i++)
		if (!i || cand[i] != cand[i - 1])
			sample_one(p, cand[i], dt, cg, ncg, fresh, &nfresh, rej, &nrej);
	for (i = 0; i < p->nprocs; i++)
		free_proc(&p->procs[i]);
	free(p->procs);
	p->procs = fresh;
	p->nprocs = nfresh;
	fresh = NULL;
	free_rejects(p->rej, p->nrej);
	p->rej = rej;
	p->nrej = nrej;
	rej = NULL;
	qsort(p->procs, p->nprocs, sizeof(*p->procs), cmp_proc);
	if ((rc = sum_components(p)))
		goto done;
	sample_net(p, dt);
	p->last_mono = mono;
	p->last_now = now;
	p->samples++;
	*ready = p->samples > 1;
done:
	free(cand);
	free(cg);
	if (rej)
		free_rejects(rej, nrej);
	if (fresh) {
		for (i = 0; i < nfresh; i++)
			free_proc(&fresh[i]);
		free(fresh);
	}
	return rc;
}

const struct prof_component *profiler_components(const struct profiler *p, size_t *n)
{
	*n = p->ncomps;
	return p->comps;
}

const struct prof_proc *profiler_procs(const struct profiler *p, size_t *n)
{
	*n = p->nprocs;
	return p->procs;
}

int profiler_csv(const struct profiler *p, struct adp_buf *out)
{
	char ts[32];
	size_t i;
	int r, rc;

	adp_time_format(ts, p->last_now);
	for (i = 0; i < p->ncomps; i++)
		for (r = 0; r < ADP_RES_COUNT; r++)
			if (p->comps[i].has[r] &&
			    (rc = adp_buf_addf(out, "%s,%s,%s,%.9g\n", ts, p->comps[i].name,
					       adp_resource_name(r), p->comps[i].v[r])))
				return rc;
	return 0;
}

/* Label values escape backslash, quote and newline. */
static int add_label(struct adp_buf *b, const char *key, const char *v, int first)
{
	int rc = adp_buf_addf(b, "%s%s=\"", first ? "" : ",", key);

	for (; !rc && *v; v++) {
		if (*v == '\\' || *v == '"')
			rc = adp_buf_addf(b, "\\%c", *v);
		else if (*v == '\n')
			rc = adp_buf_adds(b, "\\n");
		else
			rc = adp_buf_add(b, v, 1);
	}
	return rc ? rc : adp_buf_adds(b, "\"");
}

int profiler_textfile(const struct profiler *p, const char *path)
{
	static const char *const metric[] = { "adpart_component_cpu_cores", "adpart_component_memory_bytes",
					      "adpart_component_io_bytes_per_second",
					      "adpart_component_net_bytes_per_second" };
	struct adp_buf b = ADP_BUF_INIT;
	size_t i, t;
	int r, fam, rc = 0;
	char pid[24];

	adp_buf_init(&b, (size_t)64 << 20);
	for (r = 0; r < ADP_RES_COUNT && !rc; r++) {
		rc = adp_buf_addf(&b, "# HELP %s adpart-update profile: %s per component\n# TYPE %s gauge\n",
				  metric[r], adp_resource_name(r), metric[r]);
		for (i = 0; i < p->ncomps && !rc; i++) {
			if (!p->comps[i].has[r])
				continue;
			if (!(rc = adp_buf_addf(&b, "%s{", metric[r])) &&
			    !(rc = add_label(&b, "component", p->comps[i].name, 1)))
				rc = adp_buf_addf(&b, "} %.9g\n", p->comps[i].v[r]);
		}
	}
	/* Each family is one group, as the text format requires. */
	for (fam = 0; fam < 4 && !rc; fam++) {
		static const char *const head[] = {
			"# HELP adpart_process_info process metadata\n# TYPE adpart_process_info gauge\n",
			"# HELP adpart_process_memory_bytes resident memory of one process\n# TYPE adpart_process_memory_bytes gauge\n",
			"# HELP adpart_process_cpu_cores CPU cores used by one process\n# TYPE adpart_process_cpu_cores gauge\n",
			"# HELP adpart_thread_cpu_cores CPU cores used by one thread\n# TYPE adpart_thread_cpu_cores gauge\n",
		};

		rc = adp_buf_adds(&b, head[fam]);
		for (i = 0; i < p->nprocs && !rc; i++) {
			const struct prof_proc *pr = &p->procs[i];

			snprintf(pid, sizeof(pid), "%d", (int)pr->pid);
			if (fam == 0) {
				if (!(rc = adp_buf_adds(&b, "adpart_process_info{")) &&
				    !(rc = add_label(&b, "component", pr->component, 1)) &&
				    !(rc = add_label(&b, "pid", pid, 0)) && !(rc = add_label(&b, "name", pr->comm, 0)) &&
				    !(rc = add_label(&b, "user", pr->user, 0)) &&
				    !(rc = add_label(&b, "cmdline", pr->cmdline ? pr->cmdline : "", 0)))
					rc = adp_buf_adds(&b, "} 1\n");
			} else if (fam == 1) {
				if (!(rc = adp_buf_adds(&b, "adpart_process_memory_bytes{")) &&
				    !(rc = add_label(&b, "component", pr->component, 1)) &&
				    !(rc = add_label(&b, "pid", pid, 0)))
					rc = adp_buf_addf(&b, "} %.0f\n", pr->rss);
			} else if (fam == 2) {
				if (pr->cpu >= 0 && !(rc = adp_buf_adds(&b, "adpart_process_cpu_cores{")) &&
				    !(rc = add_label(&b, "component", pr->component, 1)) &&
				    !(rc = add_label(&b, "pid", pid, 0)))
					rc = adp_buf_addf(&b, "} %.9g\n", pr->cpu);
			} else {
				for (t = 0; t < pr->nthreads && !rc; t++) {
					char tid[24];

					if (pr->threads[t].cpu < 0)
						continue;
					snprintf(tid, sizeof(tid), "%d", (int)pr->threads[t].tid);
					if (!(rc = adp_buf_adds(&b, "adpart_thread_cpu_cores{")) &&
					    !(rc = add_label(&b, "component", pr->component, 1)) &&
					    !(rc = add_label(&b, "pid", pid, 0)) && !(rc = add_label(&b, "tid", tid, 0)) &&
					    !(rc = add_label(&b, "name", pr->threads[t].comm, 0)))
						rc = adp_buf_addf(&b, "} %.9g\n", pr->threads[t].cpu);
				}
			}
		}
	}
	if (!rc)
		rc = adp_write_atomic(path, adp_buf_str(&b), b.len);
	adp_buf_release(&b);
	return rc;
}

int prof_writer_open(struct prof_writer *w, const char *path, uint64_t rotate_size,
		     int64_t rotate_age)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (!(w->path = strdup(path)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	w->rotate_size = rotate_size;
	w->rotate_age = rotate_age;
	return 0;
}

static int writer_start(struct prof_writer *w, int64_t now)
{
	static const char header[] = "timestamp,component,resource,value\n";
	struct stat st;

	/* Never through a symbolic link: in a shared directory one planted
	 * there would have a root profiler append to any file. */
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (w->fd < 0 && errno == ELOOP)
		return adp_error_set(ADP_EINPUT, "refused to write '%s': it is a symbolic link", w->path);
	if (w->fd < 0)
		return adp_error_set(ADP_ESYS, "cannot open '%s': %s", w->path, strerror(errno));
	if (fstat(w->fd, &st))
		return adp_error_set(ADP_ESYS, "cannot stat '%s': %s", w->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return adp_error_set(ADP_EINPUT, "refused to write '%s': not a regular file", w->path);
	w->size = (uint64_t)st.st_size;
	w->opened_at = now;
	if (w->size == 0) {
		if (write(w->fd, header, sizeof(header) - 1) != (ssize_t)(sizeof(header) - 1))
			return adp_error_set(ADP_ESYS, "cannot write '%s': %s", w->path, strerror(errno));
		w->size = sizeof(header) - 1;
	}
	return 0;
}

int prof_writer_add(struct prof_writer *w, const char *rows, size_t len, int64_t now)
{
	int rc;

	if (w->fd >= 0 && ((w->rotate_size && w->size + len > w->rotate_size) ||
			   (w->rotate_age && now - w->opened_at >= w->rotate_age))) {
		char ts[32], *to = NULL;
		size_t pl = strlen(w->path);
		int i;

		adp_time_format(ts, w->opened_at);
		for (i = 0; ts[i]; i++)
			if (ts[i] == '-' || ts[i] == ':')
				memmove(ts + i, ts + i + 1, strlen(ts + i));
		if (pl > 4 && !strcmp(w->path + pl - 4, ".csv"))
			pl -= 4;
		if (asprintf(&to, "%.*s-%s.csv", (int)pl, w->path, ts) < 0)
			return adp_error_set(ADP_ENOMEM, "out of memory");
		fsync(w->fd);
		close(w->fd);
		w->fd = -1;
		if (rename(w->path, to)) {
			rc = adp_error_set(ADP_ESYS, "cannot rotate '%s' to '%s': %s", w->path, to, strerror(errno));
			free(to);
			return rc;
		}
		free(to);
	}
	if (w->fd < 0 && (rc = writer_start(w, now)))
		return rc;
	/* One write per sample: rows are whole lines, so readers never see half a row. */
	if (write(w->fd, rows, len) != (ssize_t)len)
		return adp_error_set(ADP_ESYS, "cannot write '%s': %s", w->path, strerror(errno));
	w->size += len;
	return 0;
}

void prof_writer_close(struct prof_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		fsync(w->fd);
		close(w->fd);
	}
	free(w->path);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}
