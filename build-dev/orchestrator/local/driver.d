build-dev/orchestrator/local/driver.o: orchestrator/local/driver.c \
 orchestrator/local/driver.h orchestrator/engine.h orchestrator/driver.h \
 plans/plan.h util/resource.h plans/steps.h partition/inventory.h \
 history/history.h history/source.h history/prometheus.h util/jsonutil.h \
 partition/schedule.h util/error.h util/fsutil.h
orchestrator/local/driver.h:
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
util/resource.h:
plans/steps.h:
partition/inventory.h:
history/history.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
partition/schedule.h:
util/error.h:
util/fsutil.h:
