build-dev/tests/unit/test_inventory.o: tests/unit/test_inventory.c \
 partition/inventory.h history/history.h util/resource.h history/source.h \
 history/prometheus.h util/jsonutil.h tests/unit/helpers.h util/error.h
partition/inventory.h:
history/history.h:
util/resource.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
tests/unit/helpers.h:
util/error.h:
