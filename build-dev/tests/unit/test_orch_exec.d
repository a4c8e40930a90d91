build-dev/tests/unit/test_orch_exec.o: tests/unit/test_orch_exec.c \
 orchestrator/engine.h orchestrator/driver.h plans/plan.h util/resource.h \
 plans/steps.h orchestrator/exec/driver.h partition/planner.h \
 forecast/forecast.h history/history.h history/prometheus.h \
 partition/inventory.h history/source.h util/jsonutil.h \
 partition/schedule.h util/error.h util/timeutil.h
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
util/resource.h:
plans/steps.h:
orchestrator/exec/driver.h:
partition/planner.h:
forecast/forecast.h:
history/history.h:
history/prometheus.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
util/error.h:
util/timeutil.h:
