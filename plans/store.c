/* The git-backed plan store (see store.h for the layout). */
#include "plans/store.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plans/plan.h"
#include "util/error.h"
#include "util/timeutil.h"

#define STORE_MAX_BLOB ((size_t)256 << 20)

struct plan_store {
	git_repository *repo;
	char *path;
	int lockfd;
};

static int git_fail(int code, const char *what, const char *path)
{
	const git_error *e = git_error_last();

	return adp_error_set(code, "plan store '%s': %s: %s", path, what, e && e->message ? e->message : "unknown error");
}

void plan_store_free(struct plan_store *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);
	git_repository_free(s->repo);
	free(s->path);
	free(s);
	git_libgit2_shutdown();
}

int plan_store_open(struct plan_store **out, const char *path, int create)
{
	struct plan_store *s = NULL;
	struct stat st;
	int rc = 0;

	git_libgit2_init();
	if (!(s = calloc(1, sizeof(*s))) || !(s->path = strdup(path))) {
		free(s);
		git_libgit2_shutdown();
		return adp_error_set(ADP_ENOMEM, "out of memory opening plan store '%s'", path);
	}
	s->lockfd = -1;
	if (stat(path, &st) != 0) {
		if (!create) {
			rc = adp_error_set(ADP_EINPUT, "plan store '%s' does not exist: expected a directory made by 'plan --store'", path);
			goto done;
		}
		if (git_repository_init(&s->repo, path, 1)) {
			rc = git_fail(ADP_ESYS, "cannot create the repository", path);
			goto done;
		}
	} else if (git_repository_open_bare(&s->repo, path)) {
		rc = git_fail(ADP_EINPUT, "not a valid git repository", path);
		goto done;
	}
done:
	if (rc) {
		plan_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Serialises writers: flock on <store>/adpart.lock, polling up to the timeout. */
static int store_lock(struct plan_store *s)
{
	char lp[4096];
	int i;

	snprintf(lp, sizeof(lp), "%s/adpart.lock", s->path);
	if ((s->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return adp_error_set(ADP_ESYS, "cannot open lock file '%s': %s", lp, strerror(errno));
	for (i = 0; i < PLAN_STORE_LOCK_TIMEOUT * 10; i++) {
		if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			break;
		usleep(100000);
	}
	close(s->lockfd);
	s->lockfd = -1;
	return adp_error_set(ADP_ESYS, "plan store '%s' is locked by another writer (waited %d seconds)", s->path,
			     PLAN_STORE_LOCK_TIMEOUT);
}

static void store_unlock(struct plan_store *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
}

int plan_store_read(struct plan_store *s, const char *path, char **out)
{
	git_object *obj = NULL;
	char spec[1024];
	char *buf = NULL;
	size_t n;
	int rc = 0;

	snprintf(spec, sizeof(spec), "HEAD:%s", path);
	if (git_revparse_single(&obj, s->repo, spec) || git_object_type(obj) != GIT_OBJECT_BLOB) {
		rc = adp_error_set(ADP_EINPUT, "plan store '%s' has no '%s'", s->path, path);
		goto done;
	}
	n = (size_t)git_blob_rawsize((git_blob *)obj);
	if (n > STORE_MAX_BLOB) {
		rc = adp_error_set(ADP_ENOMEM, "plan store '%s': '%s' is larger than %zu bytes", s->path, path,
				   STORE_MAX_BLOB);
		goto done;
	}
	if (!(buf = malloc(n + 1))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory reading '%s'", path);
		goto done;
	}
	memcpy(buf, git_blob_rawcontent((git_blob *)obj), n);
	buf[n] = '\0';
	*out = buf;
done:
	git_object_free(obj);
	return rc;
}

/* Optional file: 0 and *out NULL when absent. */
static int read_opt(struct plan_store *s, const char *path, char **out)
{
	int rc;

	*out = NULL;
	if (git_repository_head_unborn(s->repo) == 1)
		return 0;
	rc = plan_store_read(s, path, out);
	if (rc == ADP_EINPUT) {
		adp_error_clear();
		*out = NULL;
		return 0;
	}
	return rc;
}

static int valid_name(const char *n)
{
	size_t i, len = strlen(n);

	if (!len || len > PLAN_STORE_MAX_NAME || n[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (n[i] == '/' || n[i] == '\\' || (unsigned char)n[i] < 0x20)
			return 0;
	return 1;
}

static int signature(git_signature **sig, git_repository *repo)
{
	const char *n = getenv("ADPART_AUTHOR_NAME"), *e = getenv("ADPART_AUTHOR_EMAIL");

	if (n && *n && e && *e)
		return git_signature_now(sig, n, e);
	if (git_signature_default(sig, repo) == 0)
		return 0;
	return git_signature_now(sig, n && *n ? n : "adpart-update", e && *e ? e : "adpart-update@localhost");
}

struct file_add {
	const char *path, *data;
};

/* Commits HEAD's tree plus the given files on top of HEAD. */
static int commit_files(struct plan_store *s, const struct file_add *files, size_t nfiles, const char *msg)
{
	git_index *idx = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid tree_id, commit_id;
	git_reference *head = NULL;
	size_t i;
	int rc = 0;

	if (git_index_new(&idx)) {
		rc = git_fail(ADP_ENOMEM, "cannot create an index", s->path);
		goto done;
	}
	if (git_repository_head_unborn(s->repo) != 1) {
		if (git_repository_head(&head, s->repo) || git_reference_peel((git_object **)&parent, head, GIT_OBJECT_COMMIT) ||
		    git_commit_tree(&tree, parent) || git_index_read_tree(idx, tree)) {
			rc = git_fail(ADP_EINPUT, "cannot read the last commit (corrupted store?)", s->path);
			goto done;
		}
	}
	for (i = 0; i < nfiles; i++) {
		git_index_entry e;

		memset(&e, 0, sizeof(e));
		e.mode = GIT_FILEMODE_BLOB;
		e.path = files[i].path;
		if (git_blob_create_from_buffer(&e.id, s->repo, files[i].data, strlen(files[i].data)) ||
		    git_index_add(idx, &e)) {
			rc = git_fail(ADP_ESYS, "cannot add a file", s->path);
			goto done;
		}
	}
	git_tree_free(tree);
	tree = NULL;
	if (git_index_write_tree_to(&tree_id, idx, s->repo) || git_tree_lookup(&tree, s->repo, &tree_id)) {
		rc = git_fail(ADP_ESYS, "cannot write the tree", s->path);
		goto done;
	}
	if (signature(&sig, s->repo)) {
		rc = git_fail(ADP_ESYS, "cannot make a commit signature", s->path);
		goto done;
	}
	if (git_commit_create(&commit_id, s->repo, "HEAD", sig, sig, NULL, msg, tree, parent ? 1 : 0,
			      (const git_commit **)&parent)) {
		rc = git_fail(ADP_ESYS, "cannot commit", s->path);
		goto done;
	}
done:
	git_signature_free(sig);
	git_reference_free(head);
	git_tree_free(tree);
	git_commit_free(parent);
	git_index_free(idx);
	return rc;
}

static int new_lineage(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return adp_error_set(ADP_ESYS, "cannot read random bytes for a lineage: %s", strerror(errno));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int plan_store_record_plan(struct plan_store *s, struct plan *p, const char *plan_json, const char *summary,
			   char lineage_out[37], int64_t *serial_out)
{
	char *lin = NULL, *ser = NULL, *dump = NULL, *own = NULL;
	char lineage[37], serial_s[32], lp[256], sp[256], pp[300], tp[300], msg[512], a[40], b[40];
	int64_t serial = 1;
	struct file_add files[4];
	int rc = 0, locked = 0;

	if (!p->schedule_name || !valid_name(p->schedule_name)) {
		rc = adp_error_set(ADP_EINPUT, "schedule name '%s' cannot name a plan store entry: expected 1 to %d characters without '/' or a leading '.'",
				   p->schedule_name ? p->schedule_name : "", PLAN_STORE_MAX_NAME);
		goto done;
	}
	if ((rc = store_lock(s)))
		goto done;
	locked = 1;
	snprintf(lp, sizeof(lp), "%s/lineage", p->schedule_name);
	snprintf(sp, sizeof(sp), "%s/serial", p->schedule_name);
	if ((rc = read_opt(s, lp, &lin)) || (rc = read_opt(s, sp, &ser)))
		goto done;
	if (lin) {
		snprintf(lineage, sizeof(lineage), "%.36s", lin);
		serial = (ser ? strtoll(ser, NULL, 10) : 0) + 1;
	} else if ((rc = new_lineage(lineage))) {
		goto done;
	}
	memcpy(p->lineage, lineage, 37);
	p->serial = serial;
	if (!plan_json) {
		/* The same bytes as plan_write: indented JSON and a final newline. */
		if ((rc = plan_text(p, &own)))
			goto done;
		plan_json = own;
	}
	snprintf(serial_s, sizeof(serial_s), "%" PRId64 "\n", serial);
	snprintf(pp, sizeof(pp), "%s/plans/%" PRId64 ".json", p->schedule_name, serial);
	snprintf(tp, sizeof(tp), "%s/plans/%" PRId64 ".txt", p->schedule_name, serial);
	{
		char linel[38];

		snprintf(linel, sizeof(linel), "%s\n", lineage);
		files[0] = (struct file_add){ lp, linel };
		files[1] = (struct file_add){ sp, serial_s };
		files[2] = (struct file_add){ pp, plan_json };
		files[3] = (struct file_add){ tp, summary };
		adp_time_format(a, p->window_start);
		adp_time_format(b, p->window_end);
		snprintf(msg, sizeof(msg), "plan %s serial %" PRId64 " window %s..%s digest %s\n\nlineage %s\n",
			 p->schedule_name, serial, a, b, p->digest, lineage);
		if ((rc = commit_files(s, files, summary ? 4 : 3, msg)))
			goto done;
	}
	memcpy(lineage_out, lineage, 37);
	*serial_out = serial;
done:
	if (rc) {
		p->lineage[0] = '\0';
		p->serial = 0;
	}
	if (locked)
		store_unlock(s);
	free(lin);
	free(ser);
	free(dump);
	free(own);
	return rc;
}

int plan_store_check_apply(struct plan_store *s, const char *schedule, const char *lineage, int64_t serial)
{
	char *lin = NULL, *app = NULL;
	char path[256];
	int rc = 0;

	if (!valid_name(schedule))
		return adp_error_set(ADP_EINPUT, "schedule name '%s' is not in plan store '%s'", schedule, s->path);
	snprintf(path, sizeof(path), "%s/lineage", schedule);
	if ((rc = read_opt(s, path, &lin)))
		goto done;
	if (!lin) {
		rc = adp_error_set(ADP_EINPUT, "plan store '%s' has no plans for schedule '%s'", s->path, schedule);
		goto done;
	}
	if (strncmp(lin, lineage, 36) || strlen(lineage) != 36) {
		rc = adp_error_set(ADP_EINPUT, "plan for schedule '%s' is from lineage '%s', not the store's '%.36s': refusing a plan from another lineage",
				   schedule, lineage, lin);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/applied", schedule);
	if ((rc = read_opt(s, path, &app)))
		goto done;
	if (app && serial <= strtoll(app, NULL, 10)) {
		rc = adp_error_set(ADP_EINPUT, "plan for schedule '%s' has serial %" PRId64 " but serial %lld was already applied: refusing a stale plan, make a new one",
				   schedule, serial, strtoll(app, NULL, 10));
		goto done;
	}
done:
	free(lin);
	free(app);
	return rc;
}

int plan_store_record_run(struct plan_store *s, const char *schedule, int64_t serial, const char *digest,
			  const char *run_json, const char *outcome)
{
	char rp[300], ap[256], msg[512], ser[32];
	struct file_add files[2];
	size_t n = 1;
	int rc;

	if (!valid_name(schedule) || !outcome || !*outcome || strchr(outcome, '\n'))
		return adp_error_set(ADP_EINPUT, "run record for schedule '%s': bad schedule name or outcome", schedule);
	if ((rc = store_lock(s)))
		return rc;
	snprintf(rp, sizeof(rp), "%s/runs/%" PRId64 ".json", schedule, serial);
	files[0] = (struct file_add){ rp, run_json };
	if (!strcmp(outcome, "success")) {
		snprintf(ap, sizeof(ap), "%s/applied", schedule);
		snprintf(ser, sizeof(ser), "%" PRId64 "\n", serial);
		files[n++] = (struct file_add){ ap, ser };
	}
	snprintf(msg, sizeof(msg), "run %s serial %" PRId64 " outcome %s digest %s\n", schedule, serial, outcome,
		 digest ? digest : "-");
	rc = commit_files(s, files, n, msg);
	store_unlock(s);
	return rc;
}

static void fill_entry(struct plan_store_entry *e, const git_commit *c)
{
	git_oid_tostr(e->id, sizeof(e->id), git_commit_id(c));
	e->time = (int64_t)git_commit_time(c);
	snprintf(e->summary, sizeof(e->summary), "%s", git_commit_summary((git_commit *)c));
}

int plan_store_history(struct plan_store *s, struct plan_store_entry **out, size_t *n)
{
	git_revwalk *w = NULL;
	struct plan_store_entry *v = NULL, *t;
	size_t len = 0, cap = 0;
	git_oid oid;
	int rc = 0, g;

	if (git_repository_head_unborn(s->repo) == 1)
		goto done;
	if (git_revwalk_new(&w, s->repo) || git_revwalk_push_head(w)) {
		rc = git_fail(ADP_EINPUT, "cannot read the history (corrupted store?)", s->path);
		goto done;
	}
	git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
	while ((g = git_revwalk_next(&oid, w)) == 0) {
		git_commit *c;

		if (len == PLAN_STORE_MAX_HISTORY) {
			rc = adp_error_set(ADP_ENOMEM, "plan store '%s' has more than %d commits", s->path, PLAN_STORE_MAX_HISTORY);
			goto done;
		}
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			if (!(t = realloc(v, cap * sizeof(*v)))) {
				rc = adp_error_set(ADP_ENOMEM, "out of memory reading plan store history");
				goto done;
			}
			v = t;
		}
		if (git_commit_lookup(&c, s->repo, &oid)) {
			rc = git_fail(ADP_EINPUT, "cannot read a commit (corrupted store?)", s->path);
			goto done;
		}
		fill_entry(&v[len++], c);
		git_commit_free(c);
	}
	if (g != GIT_ITEROVER) {
		rc = git_fail(ADP_EINPUT, "cannot walk the history (corrupted store?)", s->path);
		goto done;
	}
done:
	git_revwalk_free(w);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}

int plan_store_show(struct plan_store *s, const char *ref, struct plan_store_entry *e, char **doc)
{
	git_object *obj = NULL, *blob = NULL;
	git_commit *c = NULL;
	char kind[8], sched[PLAN_STORE_MAX_NAME + 1], path[300], spec[400];
	long long serial;
	const char *slash = strrchr(ref, '/');
	char *buf = NULL;
	size_t sz;
	int rc = 0;

	if (strlen(ref) > 300) {
		rc = adp_error_set(ADP_EINPUT, "reference '%.40s...' is too long", ref);
		goto done;
	}
	if (slash && slash[1] && strspn(slash + 1, "0123456789") == strlen(slash + 1)) {
		/* SCHEDULE/SERIAL: the plan as recorded, at HEAD. */
		snprintf(spec, sizeof(spec), "HEAD:%.*s/plans/%s.json", (int)(slash - ref), ref, slash + 1);
		if (git_revparse_single(&blob, s->repo, spec)) {
			rc = adp_error_set(ADP_EINPUT, "plan store '%s' has no plan '%s': expected SCHEDULE/SERIAL of a recorded plan or a commit", s->path, ref);
			goto done;
		}
		memset(e, 0, sizeof(*e));
		snprintf(e->summary, sizeof(e->summary), "plan %s", ref);
	} else {
		if (git_revparse_single(&obj, s->repo, ref) || git_object_peel((git_object **)&c, obj, GIT_OBJECT_COMMIT)) {
			rc = adp_error_set(ADP_EINPUT, "plan store '%s' has no reference '%s': expected a commit from 'history' or SCHEDULE/SERIAL", s->path, ref);
			goto done;
		}
		fill_entry(e, c);
		if (sscanf(e->summary, "%7s %128s serial %lld", kind, sched, &serial) != 3 ||
		    (strcmp(kind, "plan") && strcmp(kind, "run"))) {
			rc = adp_error_set(ADP_EINPUT, "commit '%.12s' in plan store '%s' records no plan or run", e->id, s->path);
			goto done;
		}
		snprintf(path, sizeof(path), "%s/%s/%lld.json", sched, strcmp(kind, "plan") ? "runs" : "plans", serial);
		snprintf(spec, sizeof(spec), "%s:%s", e->id, path);
		if (git_revparse_single(&blob, s->repo, spec) || git_object_type(blob) != GIT_OBJECT_BLOB) {
			rc = git_fail(ADP_EINPUT, "a commit lacks its document (corrupted store?)", s->path);
			goto done;
		}
	}
	sz = (size_t)git_blob_rawsize((git_blob *)blob);
	if (sz > STORE_MAX_BLOB || !(buf = malloc(sz + 1))) {
		rc = adp_error_set(ADP_ENOMEM, "cannot hold the document of '%s' (%zu bytes)", ref, sz);
		goto done;
	}
	memcpy(buf, git_blob_rawcontent((git_blob *)blob), sz);
	buf[sz] = '\0';
	*doc = buf;
done:
	git_object_free(blob);
	git_commit_free(c);
	git_object_free(obj);
	return rc;
}

int plan_store_push(struct plan_store *s, const char *url)
{
	git_remote *r = NULL;
	git_reference *head = NULL;
	git_push_options o;
	char spec[600];
	char *specs[1] = { spec };
	git_strarray refs = { specs, 1 };
	int rc = 0;

	if (git_repository_head(&head, s->repo)) {
		rc = git_fail(ADP_EINPUT, "nothing to push", s->path);
		goto done;
	}
	snprintf(spec, sizeof(spec), "%s:%s", git_reference_name(head), git_reference_name(head));
	git_push_options_init(&o, GIT_PUSH_OPTIONS_VERSION);
	if (git_remote_create_anonymous(&r, s->repo, url) || git_remote_push(r, &refs, &o)) {
		rc = git_fail(ADP_ESYS, "cannot push", s->path);
		goto done;
	}
done:
	git_remote_free(r);
	git_reference_free(head);
	return rc;
}
