build-dev/tests/unit/test_schedule.o: tests/unit/test_schedule.c \
 partition/inventory.h history/history.h util/resource.h history/source.h \
 history/prometheus.h util/jsonutil.h partition/schedule.h \
 tests/unit/helpers.h util/error.h
partition/inventory.h:
history/history.h:
util/resource.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
partition/schedule.h:
tests/unit/helpers.h:
util/error.h:
