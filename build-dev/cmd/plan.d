build-dev/cmd/plan.o: cmd/plan.c cmd/cmd.h cmd/kube.h \
 history/prometheus.h history/history.h util/resource.h \
 orchestrator/kube/client.h partition/exact_plan.h partition/exact.h \
 partition/planner.h forecast/forecast.h partition/inventory.h \
 history/source.h util/jsonutil.h partition/schedule.h plans/plan.h \
 orchestrator/kube/discover.h plans/store.h util/error.h util/timeutil.h
cmd/cmd.h:
cmd/kube.h:
history/prometheus.h:
history/history.h:
util/resource.h:
orchestrator/kube/client.h:
partition/exact_plan.h:
partition/exact.h:
partition/planner.h:
forecast/forecast.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
plans/plan.h:
orchestrator/kube/discover.h:
plans/store.h:
util/error.h:
util/timeutil.h:
