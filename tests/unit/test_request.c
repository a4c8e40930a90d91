/* orchestrator/request: the request line's parsing and validation, the
 * answer line, and the socket's refusals, against a real socket. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "orchestrator/request.h"
#include "util/error.h"
#include "util/resource.h"

static int parse(struct orch_request *q, const char *line)
{
	return orch_request_parse(q, line, strlen(line));
}

/* Refused with a message containing what. */
static void refused(const char *line, const char *what)
{
	struct orch_request q = { .amount = -7 };

	cr_assert_eq(parse(&q, line), ADP_EINPUT, "%s", line);
	cr_assert(strstr(adp_error_last(), what), "%s: '%s'", line, adp_error_last());
	cr_assert_eq(q.amount, -7, "written on failure");
}

Test(request, parses_a_whole_request)
{
	struct orch_request q;

	cr_assert_eq(parse(&q, "{\"component\": \"api\", \"replica\": 2, \"resource\": \"memory\", \"amount\": 67108864, "
			       "\"for\": 600, \"priority\": 9, \"why\": \"warm the cache\"}"), 0, "%s", adp_error_last());
	cr_assert_str_eq(q.component, "api");
	cr_assert_eq(q.replica, 2);
	cr_assert_eq(q.resource, ADP_RES_MEMORY);
	cr_assert_float_eq(q.amount, 67108864, 1e-6);
	cr_assert_eq(q.for_s, 600);
	cr_assert_eq(q.priority, 9);
	cr_assert_str_eq(q.why, "warm the cache");
}

Test(request, defaults_replica_any_and_priority_one)
{
	struct orch_request q;

	cr_assert_eq(parse(&q, "{\"component\": \"api\", \"resource\": \"cpu\", \"amount\": 0.5, \"for\": 1, \"why\": \"x\"}"), 0);
	cr_assert_eq(q.replica, -1);
	cr_assert_eq(q.priority, 1);
	cr_assert_eq(q.resource, ADP_RES_CPU);
	/* The line need not end with a NUL: only len bytes are read. */
	cr_assert_eq(orch_request_parse(&q, "{\"component\": \"io1\", \"resource\": \"io\", \"amount\": 1, \"for\": 1, "
				       "\"why\": \"x\"}garbage", 73), 0, "%s", adp_error_last());
	cr_assert_str_eq(q.component, "io1");
}

Test(request, refuses_what_is_not_a_request)
{
	refused("", "not JSON");
	refused("{\"component\": ", "not JSON");
	refused("[1, 2]", "expected a JSON object");
	refused("{\"component\": \"a\", \"component\": \"b\"}", "not JSON");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"x\", \"user\": \"root\"}",
		"\"user\" is not a field");
}

Test(request, refuses_each_field_out_of_bounds)
{
	char line[ORCH_REQ_LINE_MAX + 64], why[ORCH_REQ_WHY_MAX + 2];

#define REQ(fields) "{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"x\"" fields "}"
	refused("{\"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"x\"}", "\"component\" is missing");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1}", "\"why\" is missing");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"why\": \"x\"}", "\"for\" is missing");
	refused("{\"component\": 7, \"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"x\"}", "expected a string");
	refused("{\"component\": \"\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"x\"}", "expected 1 to 127");
	refused("{\"component\": \"a\\u0000b\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"x\"}", "not allowed");
	refused("{\"component\": \"a\", \"resource\": \"net\", \"amount\": 1, \"for\": 1, \"why\": \"x\"}", "\"resource\"");
	refused("{\"component\": \"a\", \"amount\": 1, \"for\": 1, \"why\": \"x\"}", "\"resource\"");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 0, \"for\": 1, \"why\": \"x\"}", "\"amount\"");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": \"1\", \"for\": 1, \"why\": \"x\"}", "\"amount\"");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": -1, \"for\": 1, \"why\": \"x\"}", "above 0, in cores");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 3601, \"why\": \"x\"}", "from 1 to 3600");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 0, \"why\": \"x\"}", "from 1 to 3600");
	refused("{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1.5, \"why\": \"x\"}", "\"for\"");
	refused(REQ(", \"priority\": 10"), "\"priority\": expected an integer from 0 to 9");
	refused(REQ(", \"priority\": -1"), "\"priority\"");
	refused(REQ(", \"replica\": -1"), "\"replica\"");
	memset(why, 'w', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	snprintf(line, sizeof(line), "{\"component\": \"a\", \"resource\": \"cpu\", \"amount\": 1, \"for\": 1, \"why\": \"%s\"}", why);
	refused(line, "\"why\": expected 1 to 200 bytes");
	memset(line, ' ', sizeof(line));
	line[ORCH_REQ_LINE_MAX] = '\0';
	refused(line, "longer than 4095 bytes");
#undef REQ
}

Test(request, formats_the_answer_line)
{
	struct orch_answer a = { .state = "partial", .granted = 0.25, .reason = "partly", .id = 3, .expires_at = 100,
				 .limit = 1.5 };
	char buf[256], tiny[16];

	cr_assert_eq(orch_answer_format(buf, sizeof(buf), &a), 0);
	cr_assert_str_eq(buf, "{\"state\":\"partial\",\"granted\":0.25,\"reason\":\"partly\",\"id\":3,\"expires_at\":100,"
			      "\"limit\":1.5}\n");
	cr_assert_eq(orch_answer_format(tiny, sizeof(tiny), &a), ADP_ENOMEM);
}

static void echo_handler(void *ctx, pid_t pid, uid_t uid, const char *line, size_t n, char *ans, size_t len)
{
	(void)ctx;
	cr_assert_eq(pid, getpid());
	cr_assert_eq(uid, getuid());
	snprintf(ans, len, "{\"state\":\"error\",\"granted\":0,\"reason\":\"%.*s\"}\n", (int)n, line);
}

/* A client connected to path, with text sent. */
static int client(const char *path, const char *text, size_t n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(send(fd, text, n, 0), (ssize_t)n);
	return fd;
}

static void answer(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, 0);

	cr_assert_gt(n, 0);
	buf[n] = '\0';
	close(fd);
}

Test(request, server_refuses_a_file_in_its_place_and_answers_on_the_socket)
{
	char dir[] = "/tmp/adp-req-XXXXXX", path[64], ans[1024], big[5000];
	struct orch_req_server *s = NULL;
	struct stat st;
	FILE *f;
	int fd, fd2;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/request.sock", dir);
	cr_assert_eq(orch_request_send(path, "{}", ans, sizeof(ans), 1000), ADP_ESYS);
	cr_assert(strstr(adp_error_last(), "no apply is listening on"), "%s", adp_error_last());
	cr_assert((f = fopen(path, "w")));
	fclose(f);
	cr_assert_eq(orch_req_server_open(&s, path), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "something other than a socket"));
	unlink(path);
	cr_assert_eq(symlink("/tmp", path), 0);
	cr_assert_eq(orch_req_server_open(&s, path), ADP_EINPUT, "a symlink is refused, not followed");
	unlink(path);
	cr_assert_eq(orch_req_server_open(&s, path), 0, "%s", adp_error_last());
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	/* A line, answered through the handler with the caller's credentials. */
	fd = client(path, "hello\nrest", 10);
	/* A line longer than the bound, answered with an error. */
	memset(big, 'x', sizeof(big));
	fd2 = client(path, big, sizeof(big));
	usleep(50000);
	orch_req_server_poll(s, echo_handler, NULL);
	answer(fd, ans, sizeof(ans));
	cr_assert_str_eq(ans, "{\"state\":\"error\",\"granted\":0,\"reason\":\"hello\"}\n");
	answer(fd2, ans, sizeof(ans));
	cr_assert(strstr(ans, "\"reason\":\"request: the line is longer than 4095 bytes\""), "%s", ans);
	/* A leftover socket (of a killed apply) is replaced. */
	orch_req_server_free(s);
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		close(fd);
	}
	cr_assert_eq(orch_req_server_open(&s, path), 0, "%s", adp_error_last());
	orch_req_server_free(s);
	cr_assert_neq(lstat(path, &st), 0, "removed at the end");
	rmdir(dir);
}
