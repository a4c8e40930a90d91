build-dev/orchestrator/kube/driver.o: orchestrator/kube/driver.c \
 orchestrator/kube/driver.h history/prometheus.h history/history.h \
 util/resource.h orchestrator/engine.h orchestrator/driver.h plans/plan.h \
 plans/steps.h orchestrator/kube/client.h partition/inventory.h \
 history/source.h util/jsonutil.h partition/schedule.h \
 orchestrator/kube/discover.h util/error.h util/fsutil.h
orchestrator/kube/driver.h:
history/prometheus.h:
history/history.h:
util/resource.h:
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
plans/steps.h:
orchestrator/kube/client.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
orchestrator/kube/discover.h:
util/error.h:
util/fsutil.h:
