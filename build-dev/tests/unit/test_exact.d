build-dev/tests/unit/test_exact.o: tests/unit/test_exact.c \
 partition/exact.h partition/planner.h forecast/forecast.h \
 history/history.h util/resource.h history/prometheus.h \
 partition/inventory.h history/source.h util/jsonutil.h \
 partition/schedule.h plans/plan.h util/error.h
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
util/error.h:
