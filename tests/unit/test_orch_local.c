/* The local driver's sections of the inventory (partitions' cgroup and
 * verify, components' run, health and traffic): inventory_load keeps
 * them, orch_local_config_check refuses a bad one naming the file, the
 * line and the JSON path, and orch_local_init will not start without it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestrator/local/driver.h"
#include "partition/inventory.h"
#include "tests/unit/helpers.h"
#include "tests/unit/invfix.h"
#include "util/error.h"

TestSuite(orch_local_config, .init = t_setup, .fini = t_teardown);

/* Loads text as inv.json (it must load: the sections are only kept
 * there) and expects orch_local_config_check to refuse it with want
 * (file, line and path) in the message. */
static void expect_refused(const char *text, const char *want)
{
	struct inventory inv;

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), 0, "%s", adp_error_last());
	cr_assert_eq(orch_local_config_check(&inv), ADP_EINPUT, "accepted:\n%s", text);
	t_assert_msg(want);
	inventory_release(&inv);
}

/* components[3] given rest after its placement; the error names needle's
 * line and path, and says msg. */
static void expect_local(const char *rest, const char *needle, const char *path, const char *msg)
{
	char full[1024];
	const char *text;

	snprintf(full, sizeof(full), "\"placement\": [\"p4\"],\n      %s", rest);
	text = inv_text("", "0.25", full);
	expect_refused(text, at_line(text, needle, path));
	t_assert_msg(msg);
}

Test(orch_local_config, run_section_errors)
{
	expect_local("\"run\": {\n        \"argv\": \"python3 -m http.server\"\n      }", "\"python3 -m",
		     "components[3].run.argv", "never a shell string");
	expect_local("\"run\": {\n        \"argv\": [\"\", \"x\"]\n      }", "[\"\"",
		     "components[3].run.argv[0]", "expected a non-empty string");
	expect_local("\"run\": {\n        \"cwd\": \"/srv\"\n      }", "\"run\"", "components[3].run",
		     "missing required field 'argv'");
	expect_local("\"run\": {\n        \"argv\": [\"x\"],\n        \"stop_grace\": -1\n      }", "-1",
		     "components[3].run.stop_grace", "out of range");
	expect_local("\"run\": {\n        \"argv\": [\"x\"],\n        \"ports\": {\n          \"p9\": 80\n        }\n      }",
		     "\"p9\"", "components[3].run.ports.p9", "'p9' is not a partition of this inventory");
	expect_local("\"run\": {\n        \"argv\": [\"x\"],\n        \"ports\": {\n          \"p1\": 70000\n        }\n      }",
		     "70000", "components[3].run.ports.p1", "expected a port number from 1 to 65535");
	expect_local("\"run\": {\n        \"argv\": [\"x\"],\n        \"env\": {\n          \"A-B\": \"1\"\n        }\n      }",
		     "\"A-B\"", "components[3].run.env.A-B", "is not a variable name");
	expect_local("\"run\": {\n        \"argv\": [\"x\"],\n        \"user\": \"root\"\n      }", "\"user\"",
		     "components[3].run.user", "unknown field");
}

Test(orch_local_config, health_and_traffic_errors)
{
	expect_local("\"health\": {\n        \"http\": \"ftp://x/\"\n      }", "\"ftp:", "components[3].health.http",
		     "is not an http:// or https:// URL");
	expect_local("\"health\": {\n        \"retries\": 3\n      }", "\"health\"", "components[3].health",
		     "expected exactly one of 'http' (a URL) or 'command' (an argv)");
	expect_local("\"health\": {\n        \"http\": \"http://x/\",\n        \"retries\": 0\n      }", "0\n",
		     "components[3].health.retries", "out of range");
	expect_local("\"health\": {\n        \"command\": [\"true\"],\n        \"interval\": 0.001\n      }", "0.001",
		     "components[3].health.interval", "out of range");
	expect_local("\"health\": {\n        \"http\": \"http://x/\",\n        \"expect_status\": 42\n      }", "42",
		     "components[3].health.expect_status", "out of range");
	expect_local("\"traffic\": {\n        \"backend\": \"be\"\n      }", "\"traffic\"", "components[3].traffic",
		     "missing required field 'haproxy_socket'");
	expect_local("\"traffic\": {\n        \"haproxy_socket\": \"/run/h.sock\",\n        \"backend\": \"be x\"\n      }",
		     "\"be x\"", "components[3].traffic.backend", "HAProxy names are letters, digits");
	/* ';' and a line end would start another runtime API command. */
	expect_local("\"traffic\": {\n        \"haproxy_socket\": \"/run/h.sock\",\n        \"backend\": \"be;disable server x/y\"\n      }",
		     "\"be;", "components[3].traffic.backend", "HAProxy names are letters, digits");
	expect_local("\"traffic\": {\n        \"haproxy_socket\": \"/run/h.sock\",\n        \"backend\": \"be\",\n        \"server_prefix\": \"s\\r\"\n      }",
		     "\"s\\r", "components[3].traffic.server_prefix", "HAProxy names are letters, digits");
	expect_local("\"traffic\": {\n        \"haproxy_socket\": \"/h.sock\",\n        \"backend\": \"be\",\n        \"max_errors\": 1.5\n      }",
		     "1.5", "components[3].traffic.max_errors", "expected a whole number >= 0");
	expect_local("\"traffic\": {\n        \"haproxy_socket\": \"/h.sock\",\n        \"backend\": \"be\",\n        \"canary_seconds\": -2\n      }",
		     "-2", "components[3].traffic.canary_seconds", "out of range");
}

Test(orch_local_config, cgroup_and_verify_errors)
{
	/* partitions[0]'s extra fields, the text its error's line is found
	 * by, the path and the message. */
	static const char *const cases[][4] = {
		{ "\"cgroup\": {\n        \"path\": \"../escape\"\n      },", "\"../escape\"", "partitions[0].cgroup.path",
		  "without '..'" },
		{ "\"cgroup\": {\n        \"parent\": \"a/../../b\"\n      },", "\"a/..", "partitions[0].cgroup.parent",
		  "without '..'" },
		{ "\"cgroup\": {\n        \"path\": \"p\",\n        \"parent\": \"q\"\n      },", "\"parent\"",
		  "partitions[0].cgroup.parent", "not both" },
		{ "\"cgroup\": {\n        \"cpus\": \"all\"\n      },", "\"all\"", "partitions[0].cgroup.cpus",
		  "is not a cpu list" },
		{ "\"cgroup\": {\n        \"device\": \"sda\"\n      },", "\"sda\"", "partitions[0].cgroup.device",
		  "neither a device path nor MAJOR:MINOR" },
		{ "\"verify\": {\n        \"command\": []\n      },", "[]", "partitions[0].verify.command",
		  "expected an array of 1 to 256 strings" },
		{ "\"verify\": {\n        \"command\": [\"true\"],\n        \"timeout\": 0\n      },", "\"timeout\"",
		  "partitions[0].verify.timeout", "out of range" },
	};
	char extra[256];
	const char *text;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(extra, sizeof(extra), "\n      %s", cases[i][0]);
		text = inv_text(extra, "0.25", good_rest);
		expect_refused(text, at_line(text, cases[i][1], cases[i][2]));
		t_assert_msg(cases[i][3]);
	}
}

Test(orch_local_config, local_sections_accepted)
{
	struct inventory inv;
	const char *text = inv_text(
		"\n      \"cgroup\": {\"path\": \"adp/p1\", \"cpus\": \"0-1\", \"device\": \"8:0\"},\n"
		"      \"verify\": {\"command\": [\"/bin/true\"], \"timeout\": 30},",
		"0.25",
		"\"placement\": [\"p4\"],\n"
		"      \"run\": {\"argv\": [\"/usr/bin/python3\", \"-m\", \"http.server\", \"{port}\"], \"env\": {\"A_1\": \"x\"},\n"
		"              \"cwd\": \"/tmp\", \"stop_grace\": 2, \"ports\": {\"p1\": 8080, \"p4\": 8081}},\n"
		"      \"health\": {\"http\": \"http://127.0.0.1:{port}/\", \"retries\": 3, \"timeout\": 2, \"interval\": 0.2},\n"
		"      \"traffic\": {\"haproxy_socket\": \"/run/haproxy.sock\", \"backend\": \"be_web\"}");

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), 0, "%s", adp_error_last());
	cr_assert_eq(orch_local_config_check(&inv), 0, "%s", adp_error_last());
	cr_assert_not_null(inv.parts[0].verify);
	cr_assert_not_null(inv.comps[3].traffic);
	inventory_release(&inv);
}

/* The whole message, exactly as the command line reports it. */
Test(orch_local_config, names_file_line_and_path)
{
	const char *text = inv_text("", "0.25",
				    "\"placement\": [\"p4\"],\n      \"health\": {\n        \"http\": \"http://x/\",\n"
				    "        \"timeout\": 7200\n      }");
	char want[512];

	snprintf(want, sizeof(want), "%s/inv.json:%d: components[3].health.timeout: 7200 is out of range: expected 1 to 3600",
		 t_dir, t_line_of(text, "7200"));
	expect_refused(text, "");
	cr_assert_str_eq(adp_error_last(), want);
}

/* inventory_load itself only checks that the sections are objects. */
Test(orch_local_config, load_keeps_sections_only_objects)
{
	struct inventory inv;
	const char *text = inv_text("", "0.25", "\"placement\": [\"p4\"],\n      \"traffic\": [1]");

	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), ADP_EINPUT);
	t_assert_msg(at_line(text, "\"traffic\"", "components[3].traffic"));
	t_assert_msg("expected an object");
	text = inv_text("\n      \"cgroup\": \"adp\",", "0.25", good_rest);
	cr_assert_eq(inventory_load(&inv, t_write("inv.json", text)), ADP_EINPUT);
	t_assert_msg("partitions[0].cgroup: expected an object with path or parent, and cpus");
}

/* The driver cannot be started on sections that were not checked; an
 * inventory built in memory (no file) is named without a line. */
Test(orch_local_config, init_checks_the_sections)
{
	struct inventory inv = { 0 };
	struct inv_partition part = { 0 };
	struct orch_local l;

	part.name = "p1";
	part.zone = "";
	part.cgroup = json_pack("{s:s}", "path", "/abs");
	inv.parts = &part;
	inv.nparts = 1;
	cr_assert_eq(orch_local_init(&l, &inv, NULL, t_dir), ADP_EINPUT);
	cr_assert_str_eq(adp_error_last(),
			 "inventory: partitions[0].cgroup.path: '/abs' must be relative to the cgroup root, without '..', at most 400 bytes");
	orch_local_release(&l);
	json_decref(part.cgroup);
}

/* ---- HAProxy's runtime socket ---- */

/* A UNIX socket at path that accepts one connection and then, per mode:
 * 0 never answers (a hung HAProxy), 1 closes at once, 2 answers "ok".
 * Runs in a child process, which is returned. */
static pid_t fake_haproxy(const char *path, int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), c;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) && !listen(fd, 4));
	if ((pid = fork()) == 0) {
		char buf[256];
		ssize_t r = 0;

		c = accept(fd, NULL, NULL);
		if (mode == 1)
			_exit(0);
		/* The whole command, to its newline, as HAProxy reads it: one
		 * left unread would make the close a reset the client sees. */
		do
			r = read(c, buf, sizeof(buf));
		while (r > 0 && !memchr(buf, '\n', (size_t)r));
		if (r < 0)
			_exit(1);
		if (mode == 2 && write(c, "ok\n", 3) == 3)
			_exit(0);
		pause();
		_exit(0);
	}
	close(fd);
	return pid;
}

Test(orch_haproxy, a_hung_haproxy_fails_within_the_timeout, .init = t_setup, .fini = t_teardown, .timeout = 30)
{
	const char *sock = t_path("hap.sock");
	pid_t pid = fake_haproxy(sock, 0);
	char *reply = NULL;

	cr_assert_eq(orch_haproxy_cmd_within(sock, "show stat", &reply, 300), ADP_ESYS);
	t_assert_msg("did not answer 'show stat' within the timeout");
	cr_assert_null(reply);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

Test(orch_haproxy, a_peer_closing_mid_command_is_an_error, .init = t_setup, .fini = t_teardown)
{
	const char *sock = t_path("hap.sock");
	pid_t pid = fake_haproxy(sock, 1);
	static char big[1 << 20];

	/* A command larger than the socket buffer meets the peer closing:
	 * the send ends short, an error naming it. (Whether SIGPIPE would
	 * come instead depends on timing; MSG_NOSIGNAL rules it out.) */
	memset(big, 'x', sizeof(big) - 1);
	cr_assert_eq(orch_haproxy_cmd_within(sock, big, NULL, 2000), ADP_ESYS);
	t_assert_msg("cannot send to haproxy");
	waitpid(pid, NULL, 0);
}

Test(orch_haproxy, an_answer_is_returned, .init = t_setup, .fini = t_teardown)
{
	const char *sock = t_path("hap.sock");
	pid_t pid = fake_haproxy(sock, 2);
	char *reply = NULL;

	cr_assert_eq(orch_haproxy_cmd_within(sock, "show info", &reply, 2000), 0, "%s", adp_error_last());
	cr_assert_str_eq(reply, "ok\n");
	free(reply);
	waitpid(pid, NULL, 0);
}
