build-dev/cmd/apply.o: cmd/apply.c cmd/cmd.h cmd/kube.h \
 history/prometheus.h history/history.h util/resource.h \
 orchestrator/kube/client.h orchestrator/engine.h orchestrator/driver.h \
 plans/plan.h plans/steps.h orchestrator/kube/driver.h \
 partition/inventory.h history/source.h util/jsonutil.h \
 partition/schedule.h orchestrator/local/driver.h plans/store.h \
 util/fsutil.h util/error.h util/timeutil.h
cmd/cmd.h:
cmd/kube.h:
history/prometheus.h:
history/history.h:
util/resource.h:
orchestrator/kube/client.h:
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
plans/steps.h:
orchestrator/kube/driver.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
orchestrator/local/driver.h:
plans/store.h:
util/fsutil.h:
util/error.h:
util/timeutil.h:
