/* adpart-update's settings: the config files (read by libinih, a small,
 * well-kept INI parser), the environment, and the config command that
 * shows the effective values and where each came from. Precedence:
 * flag > environment > user file > system file > built-in default. */
#include <argp.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "history/prometheus.h"
#include "orchestrator/drivers.h"
#include "orchestrator/fleet/fleet.h"
#include "orchestrator/fleet/fleetlock.h"
#include "orchestrator/kube/lease.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/jsonutil.h"

#ifndef ADP_SYSCONFDIR
#define ADP_SYSCONFDIR "/etc"
#endif

/* A config file is a few lines of settings: anything larger is a mistake. */
#define CMD_CONFIG_MAX ((size_t)64 << 10)
#define CMD_CONFIG_FILES 2

/* A value is checked where it is read, so that a bad one is named with
 * its file and line (or variable) before any command runs. */
typedef int (*setting_check)(const char *value);

struct setting {
	const char *section, *key, *env, *flag;
	const char *def; /* shown for the built-in default; NULL: none */
	int url;         /* may hold credentials: shown redacted */
	setting_check check;
};

static int check_driver(const char *v)
{
	char names[256];

	if (orch_driver_find(v))
		return 0;
	orch_driver_names(names, sizeof(names));
	return adp_error_set(ADP_EINPUT, "unknown driver '%s': expected %s", v, names);
}

int cmd_semaphore_check(const char *url, const char **lease_ns)
{
	*lease_ns = NULL;
	return kube_lease_url_is(url)   ? kube_lease_url_ns(url, lease_ns)
	       : fleetlock_url_is(url) ? fleetlock_url_check(url)
				       : fleet_endpoints_check(url);
}

static int check_semaphore(const char *v)
{
	const char *ns;

	return cmd_semaphore_check(v, &ns);
}

static int check_prometheus(const char *v)
{
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
		return adp_error_set(ADP_EINPUT, "a Prometheus URL starts with http:// or https://");
	return 0;
}

/* In the order of enum cmd_key. */
static const struct setting settings[CMD_NKEYS] = {
	{ "defaults", "store", "ADPART_STORE", "--store", NULL, 0, NULL },
	{ "defaults", "driver", "ADPART_DRIVER", "--driver", "local", 0, check_driver },
	{ "apply", "state-dir", "ADPART_STATE_DIR", "--state-dir", CMD_STATE_DIR, 0, NULL },
	{ "apply", "host-lock", "ADPART_HOST_LOCK", "--host-lock", NULL, 0, NULL },
	{ "apply", "semaphore", "ADPART_SEMAPHORE", "--semaphore", NULL, 1, check_semaphore },
	{ "apply", "hook", "ADPART_HOOK", "--hook", NULL, 0, NULL },
	{ "prometheus", "url", "ADPART_PROMETHEUS", "--prometheus", NULL, 1, check_prometheus },
	{ "prometheus", "token-file", "ADPART_PROM_TOKEN_FILE", "--prom-token-file", NULL, 0, NULL },
	{ "prometheus", "ca-file", "ADPART_PROM_CA_FILE", "--prom-ca-file", NULL, 0, NULL },
};

enum origin { FROM_DEFAULT, FROM_FILE, FROM_ENV, FROM_FLAG };

struct value {
	char *text;       /* owned; NULL or "": the built-in default */
	enum origin from;
	size_t file;      /* FROM_FILE: index in files[] */
	unsigned line;
};

static struct value values[CMD_NKEYS];
static struct {
	char *path; /* owned */
	int read;   /* 0: absent (a default file may be) */
} files[CMD_CONFIG_FILES];
static size_t nfiles;

static int set_value(enum cmd_key k, const char *text, enum origin from, size_t file, unsigned line)
{
	char *copy = strdup(text);

	if (!copy)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	free(values[k].text);
	values[k].text = copy;
	values[k].from = from;
	values[k].file = file;
	values[k].line = line;
	return 0;
}

/* One file's parse: libinih reads lines through read_line, which counts
 * them, so that every message names its line. */
struct parse {
	const char *pos; /* the next line in the file's text */
	size_t file;     /* its index in files[] */
	unsigned line, seen[CMD_NKEYS];
	int failed;
	char msg[1024];
};

/* Keeps the first error of the file, said with its line at the end. */
static void parse_fail(struct parse *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void parse_fail(struct parse *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

/* The sections known: [defaults] and every section a key names. */
static int known_section(const char *name, size_t n)
{
	size_t k;

	for (k = 0; k < CMD_NKEYS; k++)
		if (strlen(settings[k].section) == n && !strncmp(settings[k].section, name, n))
			return 1;
	return 0;
}

/* libinih's reader, fgets-like: one line from the buffer without its
 * leading white space (libinih would take an indented line for the
 * continuation of the previous value), a section checked as it opens. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *c = stream;
	const char *s = c->pos, *nl;
	size_t n;

	if (c->failed || !*s)
		return NULL;
	nl = strchr(s, '\n');
	n = nl ? (size_t)(nl - s) : strlen(s);
	c->pos = nl ? nl + 1 : s + n;
	c->line++;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (num < 3 || n > (size_t)num - 2) {
		parse_fail(c, "line longer than %d characters", num > 2 ? num - 2 : 0);
		return NULL;
	}
	memcpy(str, s, n);
	str[n] = '\0';
	if (*str == '[') {
		const char *end = strchr(str, ']');

		if (end && !known_section(str + 1, (size_t)(end - str - 1))) {
			parse_fail(c, "unknown section '[%.*s]': expected [defaults], [apply] or [prometheus]", (int)(end - str - 1),
				   str + 1);
			return NULL;
		}
	}
	return str;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse *c = user;
	size_t k, other = CMD_NKEYS;

	if (c->failed)
		return 1;
	if (!*section) {
		parse_fail(c, "'%s' is outside a section: put it under [defaults] or [apply]", name);
		return 0;
	}
	for (k = 0; k < CMD_NKEYS; k++) {
		if (strcmp(settings[k].key, name))
			continue;
		if (!strcmp(settings[k].section, section))
			break;
		other = k;
	}
	if (k == CMD_NKEYS && other < CMD_NKEYS) {
		parse_fail(c, "'%s' belongs in [%s], not [%s]", name, settings[other].section, section);
		return 0;
	}
	if (k == CMD_NKEYS) {
		parse_fail(c, "unknown key '%s' in [%s]", name, section);
		return 0;
	}
	if (c->seen[k]) {
		parse_fail(c, "'%s' is set twice (first on line %u)", name, c->seen[k]);
		return 0;
	}
	c->seen[k] = c->line;
	/* Never echo a value that may hold a secret: the check's message
	 * redacts a URL's credentials. */
	if (*value && settings[k].check && settings[k].check(value)) {
		parse_fail(c, "%s: %s", name, adp_error_last());
		return 0;
	}
	if (set_value((enum cmd_key)k, value, FROM_FILE, c->file, c->line)) {
		parse_fail(c, "%s: %s", name, adp_error_last());
		return 0;
	}
	return 1;
}

/* Reads one config file into values[]; an absent file is skipped when
 * optional. Reports its own error: 0 or EXIT_ERROR. */
static int read_config(const char *path, int optional)
{
	struct parse c = { 0 };
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rc;

	/* At most the system file and the user file: files[] holds both. */
	if (!(files[nfiles].path = strdup(path))) {
		cmd_error("out of memory");
		return EXIT_ERROR;
	}
	c.file = nfiles++;
	if (optional && stat(path, &st) && errno == ENOENT)
		return 0;
	if (adp_read_file(&text, &len, path, CMD_CONFIG_MAX)) {
		cmd_error_last("config file");
		return EXIT_ERROR;
	}
	if (strlen(text) != len) {
		cmd_error("%s: a NUL byte: a config file is text", path);
		free(text);
		return EXIT_ERROR;
	}
	c.pos = text;
	rc = ini_parse_stream(read_line, &c, on_value, &c);
	free(text);
	/* libinih goes on past a line it cannot parse and returns the first
	 * such line: earlier than ours, it is the one to name. */
	if (rc > 0 && (!c.failed || (unsigned)rc < c.line)) {
		cmd_error("%s:%d: expected [SECTION], KEY = VALUE or a comment (; or #)", path, rc);
		return EXIT_ERROR;
	}
	if (c.failed || rc) {
		cmd_error("%s:%u: %s", path, c.line, c.failed ? c.msg : "cannot parse");
		return EXIT_ERROR;
	}
	files[c.file].read = 1;
	return 0;
}

/* "DIR/adpart-update/config" into out; 0, or -1 when it does not fit. */
static int config_path(char *out, size_t len, const char *dir, const char *sub)
{
	int n = snprintf(out, len, "%s%s/adpart-update/config", dir, sub);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The environment's settings over the files'. A bad value is a usage
 * error, as a flag's would be. */
static int read_env(void)
{
	size_t k;

	for (k = 0; k < CMD_NKEYS; k++) {
		const char *v = getenv(settings[k].env);

		if (!v)
			continue;
		if (*v && settings[k].check && settings[k].check(v)) {
			cmd_error("%s: %s", settings[k].env, adp_error_last());
			return EXIT_USAGE;
		}
		if (set_value((enum cmd_key)k, v, FROM_ENV, 0, 0)) {
			cmd_error_last(NULL);
			return EXIT_ERROR;
		}
	}
	return 0;
}

int cmd_config_load(const char *file)
{
	char path[4096];
	const char *dir;
	int rc;

	if (!file && (file = getenv("ADPART_CONFIG")) && !*file)
		file = NULL;
	if (file) {
		if ((rc = read_config(file, 0)))
			return rc;
		return read_env();
	}
	/* The system file, then the user's over it. */
	dir = getenv("ADPART_SYSCONFDIR");
	if (config_path(path, sizeof(path), dir && *dir ? dir : ADP_SYSCONFDIR, "")) {
		cmd_error("ADPART_SYSCONFDIR: path too long");
		return EXIT_USAGE;
	}
	if ((rc = read_config(path, 1)))
		return rc;
	/* XDG: a relative $XDG_CONFIG_HOME is to be ignored. */
	dir = getenv("XDG_CONFIG_HOME");
	if (dir && *dir == '/')
		rc = config_path(path, sizeof(path), dir, "");
	else if ((dir = getenv("HOME")) && *dir)
		rc = config_path(path, sizeof(path), dir, "/.config");
	else
		dir = NULL;
	if (dir && rc) {
		cmd_error("the user's config directory: path too long");
		return EXIT_USAGE;
	}
	if (dir && (rc = read_config(path, 1)))
		return rc;
	return read_env();
}

void cmd_config_say_files(void)
{
	size_t i;

	for (i = 0; i < nfiles; i++)
		cmd_verbose("config file '%s': %s", files[i].path, files[i].read ? "read" : "absent");
}

void cmd_config_release(void)
{
	size_t k;

	for (k = 0; k < CMD_NKEYS; k++) {
		free(values[k].text);
		values[k].text = NULL;
		values[k].from = FROM_DEFAULT;
	}
	for (k = 0; k < nfiles; k++) {
		free(files[k].path);
		files[k].path = NULL;
	}
	nfiles = 0;
}

const char *cmd_setting(enum cmd_key k)
{
	return values[k].text && *values[k].text ? values[k].text : NULL;
}

void cmd_prom_settings(struct history_prom_opts *p)
{
	if (!p->url)
		return;
	if (!p->bearer_token_file)
		p->bearer_token_file = cmd_setting(CMD_KEY_PROM_TOKEN);
	if (!p->ca_file)
		p->ca_file = cmd_setting(CMD_KEY_PROM_CA);
}

const char *cmd_default_host_lock(void)
{
	/* /run/lock is missing in some containers */
	return access("/run/lock", W_OK) ? "/tmp/adpart-update.lock" : CMD_HOST_LOCK;
}

/* The config command: the effective settings, each with its origin. */

struct config_args {
	const char *flag[CMD_NKEYS];
	int json;
};

enum { OPT_KEY = 1000 };

static const struct argp_option config_options[] = {
	{ "store", OPT_KEY + CMD_KEY_STORE, "DIR", 0, "As plan's, apply's, history's ... --store: shown as from a flag", 0 },
	{ "driver", OPT_KEY + CMD_KEY_DRIVER, "NAME", 0, "As plan's and apply's --driver", 0 },
	{ "state-dir", OPT_KEY + CMD_KEY_STATE_DIR, "DIR", 0, "As apply's --state-dir", 0 },
	{ "host-lock", OPT_KEY + CMD_KEY_HOST_LOCK, "FILE", 0, "As apply's --host-lock", 0 },
	{ "semaphore", OPT_KEY + CMD_KEY_SEMAPHORE, "URL", 0, "As apply's --semaphore", 0 },
	{ "hook", OPT_KEY + CMD_KEY_HOOK, "PATH", 0, "As apply's --hook", 0 },
	{ "prometheus", OPT_KEY + CMD_KEY_PROMETHEUS, "URL", 0, "As plan's and apply's --prometheus", 0 },
	{ "prom-token-file", OPT_KEY + CMD_KEY_PROM_TOKEN, "FILE", 0, "As plan's and apply's --prom-token-file", 0 },
	{ "prom-ca-file", OPT_KEY + CMD_KEY_PROM_CA, "FILE", 0, "As plan's and apply's --prom-ca-file", 0 },
	{ 0 },
};

static error_t config_parse(int key, char *arg, struct argp_state *state)
{
	struct config_args *a = state->input;

	if (key >= OPT_KEY && key < OPT_KEY + CMD_NKEYS) {
		const struct setting *s = &settings[key - OPT_KEY];

		if (*arg && s->check && s->check(arg))
			argp_error(state, "%s: %s", s->flag, adp_error_last());
		a->flag[key - OPT_KEY] = arg;
		return 0;
	}
	switch (key) {
	case ARGP_KEY_INIT: state->child_inputs[0] = &a->json; break;
	case ARGP_KEY_ARG: argp_error(state, "unexpected argument '%s'", arg); break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_config_argp = {
	config_options, config_parse, NULL,
	"Show the effective settings, each with where it came from: a flag (the options here stand for "
	"the commands' own), the environment, a config file and its line, or the built-in default. "
	"Credentials in a URL are never shown.",
	cmd_output_children, NULL, NULL,
};

/* The value as shown: "" for none, a URL list without credentials. */
static void shown_value(char *out, size_t len, enum cmd_key k)
{
	const char *v = cmd_setting(k), *s;
	size_t n = 0;

	out[0] = '\0';
	if (!v) {
		snprintf(out, len, "%s", k == CMD_KEY_HOST_LOCK ? cmd_default_host_lock()
					 : settings[k].def ? settings[k].def : "");
		return;
	}
	if (!settings[k].url) {
		snprintf(out, len, "%s", v);
		return;
	}
	for (s = v; n + 1 < len;) {
		size_t m = strcspn(s, ",");
		char one[1024];

		snprintf(one, sizeof(one), "%.*s", (int)(m < 1000 ? m : 1000), s);
		adp_url_redact(out + n, len - n, one);
		n += strlen(out + n);
		if (!s[m] || n + 1 >= len)
			break;
		out[n++] = ',';
		out[n] = '\0';
		s += m + 1;
	}
}

static void origin_text(char *out, size_t len, enum cmd_key k)
{
	const struct value *v = &values[k];

	switch (v->from) {
	case FROM_FLAG: snprintf(out, len, "flag %s", settings[k].flag); break;
	case FROM_ENV: snprintf(out, len, "environment %s", settings[k].env); break;
	case FROM_FILE: snprintf(out, len, "%s:%u", files[v->file].path, v->line); break;
	default: snprintf(out, len, "default"); break;
	}
}

static int print_json(void)
{
	static const char *const from[] = { "default", "file", "environment", "flag" };
	struct adp_jb b = { 0 };
	json_t *doc = json_object(), *fl = json_array(), *st = json_array();
	size_t i;
	int rc;

	adp_jset(&b, doc, "files", fl);
	adp_jset(&b, doc, "settings", st);
	for (i = 0; i < nfiles; i++)
		adp_jpush(&b, fl, json_pack("{s:s, s:b}", "path", files[i].path, "read", files[i].read));
	for (i = 0; i < CMD_NKEYS; i++) {
		const struct value *v = &values[i];
		json_t *o = json_object();
		char val[4096];

		shown_value(val, sizeof(val), (enum cmd_key)i);
		adp_jpush(&b, st, o);
		adp_jset(&b, o, "section", json_string(settings[i].section));
		adp_jset(&b, o, "key", json_string(settings[i].key));
		adp_jset(&b, o, "value", *val ? json_string(val) : json_null());
		adp_jset(&b, o, "origin", json_string(from[v->from]));
		if (v->from == FROM_FILE) {
			adp_jset(&b, o, "file", json_string(files[v->file].path));
			adp_jset(&b, o, "line", json_integer(v->line));
		}
		adp_jset(&b, o, "environment", json_string(settings[i].env));
		adp_jset(&b, o, "flag", json_string(settings[i].flag));
	}
	rc = cmd_print_json(stdout, doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &b);
	json_decref(doc);
	return rc;
}

int cmd_config(int argc, char **argv)
{
	struct config_args a = { 0 };
	const char *section = "";
	size_t i;
	int parsed;

	if ((parsed = cmd_parse(&cmd_config_argp, argc, argv, 0, &a)))
		return parsed;
	for (i = 0; i < CMD_NKEYS; i++)
		if (a.flag[i] && set_value((enum cmd_key)i, a.flag[i], FROM_FLAG, 0, 0)) {
			cmd_error_last(NULL);
			return EXIT_ERROR;
		}
	if (a.json)
		return print_json();
	/* Reads as a config file: the origins are comments. */
	for (i = 0; i < nfiles; i++)
		printf("; %s: %s\n", files[i].path, files[i].read ? "read" : "absent");
	for (i = 0; i < CMD_NKEYS; i++) {
		char val[4096], from[4200], line[4400];

		if (strcmp(section, settings[i].section))
			printf("[%s]\n", section = settings[i].section);
		shown_value(val, sizeof(val), (enum cmd_key)i);
		origin_text(from, sizeof(from), (enum cmd_key)i);
		snprintf(line, sizeof(line), "%s = %s", settings[i].key, val);
		printf("%-40s ; %s\n", line, from);
	}
	return EXIT_OK;
}
