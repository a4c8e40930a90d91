build-dev/tests/unit/test_orch_engine.o: tests/unit/test_orch_engine.c \
 orchestrator/engine.h orchestrator/driver.h plans/plan.h util/resource.h \
 plans/steps.h partition/planner.h forecast/forecast.h history/history.h \
 history/prometheus.h partition/inventory.h history/source.h \
 util/jsonutil.h partition/schedule.h util/error.h util/fault.h \
 util/timeutil.h
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
util/resource.h:
plans/steps.h:
partition/planner.h:
forecast/forecast.h:
history/history.h:
history/prometheus.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
util/error.h:
util/fault.h:
util/timeutil.h:
