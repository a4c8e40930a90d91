# Helpers for tests against the fake API server (sourced by tests/cli/t-kube.sh
# and t-kube-drain.sh).
# fk_certs DIR: a throwaway CA, a server certificate for 127.0.0.1 signed by
# it, a second unrelated CA (for the wrong-CA test), a client certificate and
# a bearer token.
fk_certs() {
	d=$1
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		for ca in ca other-ca; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $ca.key \
				-out $ca.crt -days 2 -subj "/CN=adpart-update test $ca" 2>/dev/null || exit 1
		done
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >srv.ext
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
			-subj "/CN=127.0.0.1" 2>/dev/null &&
			openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 \
				-extfile srv.ext 2>/dev/null || exit 1
		printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >cli.ext
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cli.key -out cli.csr \
			-subj "/CN=adpart-update/O=system:masters" 2>/dev/null &&
			openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2 \
				-extfile cli.ext 2>/dev/null || exit 1
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >token
		chmod 600 token ./*.key
	)
}

# fk_start DIR CLUSTER_JSON [CLUSTERROLE]: starts the fake on a free port, the
# token's rules from CLUSTERROLE (default: the shipped one); sets FK_PORT,
# FK_PID and writes DIR/kubeconfig (token auth, CA by file).
fk_start() {
	d=$1
	rm -f "$d/port" "$d/log"
	/usr/bin/python3 "$TOP/tests/fake-kube/fake_kube.py" --cluster "$2" --cert "$d/srv.crt" --key "$d/srv.key" \
		--token-file "$d/token" --client-ca "$d/ca.crt" --port-file "$d/port" --dump "$d/state.json" \
		--log "$d/log" --rbac "${3:-$TOP/deploy/kubernetes/clusterrole.yaml}" 2>"$d/server.err" &
	FK_PID=$!
	i=0
	while [ ! -s "$d/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	FK_PORT=$(cat "$d/port" 2>/dev/null)
	cat >"$d/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$FK_PORT
    certificate-authority: ca.crt
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
- name: other
  context:
    cluster: fake
    user: nobody
users:
- name: tester
  user:
    tokenFile: token
- name: nobody
  user: {}
YAML
	[ -n "$FK_PORT" ]
}

# fk_admin METHOD PATH [JSON]: a request as the cluster administrator (client
# certificate), e.g. what an operator does with kubectl during a test.
fk_admin() {
	curl -s --max-time 10 --cacert "$K/ca.crt" --cert "$K/cli.crt" --key "$K/cli.key" -X "$1" \
		-H 'Content-Type: application/merge-patch+json' ${3:+-d "$3"} "https://127.0.0.1:$FK_PORT$2"
}

fk_stop() {
	[ -n "${FK_PID:-}" ] && kill "$FK_PID" 2>/dev/null && wait "$FK_PID" 2>/dev/null
	FK_PID=
}

# The groups' own helpers, over $K (the group's directory), $TD, $BIN and
# $KNOW (plan's --now); name, ok and bad are tests/cli/run.sh's.
# kcluster JQ: the fixture cluster changed by a jq filter, as $K/cluster.json.
kcluster() { jq "$1" "$TD/kube/cluster.json" >"$K/cluster.json"; }
# kstart [CLUSTERROLE]: a fresh fake on the current $K/cluster.json.
kstart() {
	fk_stop
	rm -rf "$K/st" "$K/updates.log" "$K/state.json"
	fk_start "$K" "$K/cluster.json" "$@" || { name="kube: fake server start"; bad "$(tail -3 "$K/server.err")"; }
}
kplan() {
	"$BIN" plan --driver kubernetes --kubeconfig "$K/kubeconfig" -s "$K/sched.json" $KNOW -f "$K/plan.json" \
		-i "$K/inventory.json" -H "$TD/kube/history.csv" "$@" >"$K/plan.out" 2>"$K/plan.err"
}
# kjq NAME FILTER: the filter must print true on the fake's current state;
# krun NAME FILTER: on the run record.
kjq() { kcheck "$K/state.json" "$@"; }
krun() { kcheck "$K/st/run.json" "$@"; }
kcheck() {
	name=$2
	if [ "$(jq -r "$3" "$1" 2>&1)" = true ]; then ok; else bad "$(basename "$1"): $3 is $(jq -c "$3" "$1" 2>&1)"; fi
}
# kmsg NAME PATH REGEX: the message of the run record's PATH (.steps[6],
# .observations[0], ...) matches REGEX.
kmsg() {
	name=$1
	if jq -e --arg re "$3" "$2.message | test(\$re)" "$K/st/run.json" >/dev/null 2>&1; then ok; else
		bad "$2 is $(jq -c "$2" "$K/st/run.json" 2>&1)"; fi
}
# kat PLAN: --now at PLAN's start, as apply runs no earlier.
kat() { echo "--now $(cli_plan_start "$1")"; }
