build-dev/tests/unit/test_plan.o: tests/unit/test_plan.c plans/plan.h \
 util/resource.h tests/unit/planfix.h partition/planner.h \
 forecast/forecast.h history/history.h history/prometheus.h \
 partition/inventory.h history/source.h util/jsonutil.h \
 partition/schedule.h tests/unit/helpers.h util/error.h util/fsutil.h \
 util/sha256.h
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
util/fsutil.h:
util/sha256.h:
