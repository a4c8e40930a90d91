build-dev/tests/unit/test_planner.o: tests/unit/test_planner.c \
 partition/inventory.h history/history.h util/resource.h history/source.h \
 history/prometheus.h util/jsonutil.h tests/unit/planfix.h \
 partition/planner.h forecast/forecast.h partition/schedule.h \
 plans/plan.h tests/unit/helpers.h util/error.h
partition/inventory.h:
history/history.h:
util/resource.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
tests/unit/planfix.h:
partition/planner.h:
forecast/forecast.h:
partition/schedule.h:
plans/plan.h:
tests/unit/helpers.h:
util/error.h:
