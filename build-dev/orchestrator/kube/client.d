build-dev/orchestrator/kube/client.o: orchestrator/kube/client.c \
 orchestrator/kube/client.h util/buf.h util/error.h util/fsutil.h
orchestrator/kube/client.h:
util/buf.h:
util/error.h:
util/fsutil.h:
