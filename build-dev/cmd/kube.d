build-dev/cmd/kube.o: cmd/kube.c cmd/kube.h history/prometheus.h \
 history/history.h util/resource.h orchestrator/kube/client.h cmd/cmd.h \
 orchestrator/kube/discover.h util/error.h util/fsutil.h util/timeutil.h
cmd/kube.h:
history/prometheus.h:
history/history.h:
util/resource.h:
orchestrator/kube/client.h:
cmd/cmd.h:
orchestrator/kube/discover.h:
util/error.h:
util/fsutil.h:
util/timeutil.h:
