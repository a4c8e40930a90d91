build-dev/tests/unit/test_orch_cgroup.o: tests/unit/test_orch_cgroup.c \
 tests/unit/helpers.h orchestrator/local/driver.h orchestrator/engine.h \
 orchestrator/driver.h plans/plan.h util/resource.h plans/steps.h \
 partition/inventory.h history/history.h history/source.h \
 history/prometheus.h util/jsonutil.h partition/schedule.h util/error.h
tests/unit/helpers.h:
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
