build-dev/orchestrator/kube/discover.o: orchestrator/kube/discover.c \
 orchestrator/kube/discover.h orchestrator/kube/client.h \
 history/history.h util/resource.h util/error.h
orchestrator/kube/discover.h:
orchestrator/kube/client.h:
history/history.h:
util/resource.h:
util/error.h:
