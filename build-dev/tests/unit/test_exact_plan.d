build-dev/tests/unit/test_exact_plan.o: tests/unit/test_exact_plan.c \
 partition/exact_plan.h partition/exact.h partition/planner.h \
 forecast/forecast.h history/history.h util/resource.h \
 history/prometheus.h partition/inventory.h history/source.h \
 util/jsonutil.h partition/schedule.h plans/plan.h tests/unit/planfix.h \
 tests/unit/helpers.h util/error.h
partition/exact_plan.h:
partition/exact.h:
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
tests/unit/planfix.h:
tests/unit/helpers.h:
util/error.h:
