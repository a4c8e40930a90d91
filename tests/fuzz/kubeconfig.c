/* The kubeconfig (YAML through libyaml), with its current context and
 * with a context named "prod"; base64 data fields decoded on the way. */
#include "orchestrator/kube/client.h"
#include "tests/fuzz/fuzz.h"

static void load(const char *path, const char *context)
{
	struct kube_config c;
	int rc;

	adp_error_clear();
	rc = kube_config_load(&c, path, context);
	fuzz_check_load(rc, &c, sizeof(c));
	if (!rc && (!c.server || strncmp(c.server, "https://", 8)))
		fuzz_die("a loaded configuration without an https:// server");
	kube_config_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_MAX];
	int fd = fuzz_file(data, size, path);

	load(path, NULL);
	load(path, "prod");
	close(fd);
	return 0;
}
