build-dev/partition/planner.o: partition/planner.c partition/planner.h \
 forecast/forecast.h history/history.h util/resource.h \
 history/prometheus.h partition/inventory.h history/source.h \
 util/jsonutil.h partition/schedule.h plans/plan.h plans/steps.h \
 util/error.h util/timeutil.h
partition/planner.h:
forecast/forecast.h:
history/history.h:
util/resource.h:
history/prometheus.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
plans/plan.h:
plans/steps.h:
util/error.h:
util/timeutil.h:
