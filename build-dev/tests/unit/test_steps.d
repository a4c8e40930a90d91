build-dev/tests/unit/test_steps.o: tests/unit/test_steps.c plans/steps.h \
 plans/plan.h util/resource.h tests/unit/planfix.h partition/planner.h \
 forecast/forecast.h history/history.h history/prometheus.h \
 partition/inventory.h history/source.h util/jsonutil.h \
 partition/schedule.h tests/unit/helpers.h util/error.h
plans/steps.h:
plans/plan.h:
util/resource.h:
tests/unit/planfix.h:
partition/planner.h:
forecast/forecast.h:
history/history.h:
history/prometheus.h:
partition/inventory.h:
history/source.h:
util/jsonutil.h:
partition/schedule.h:
tests/unit/helpers.h:
util/error.h:
