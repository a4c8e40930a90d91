build-dev/tests/unit/test_prom.o: tests/unit/test_prom.c \
 history/prometheus.h history/history.h util/resource.h util/error.h
history/prometheus.h:
history/history.h:
util/resource.h:
util/error.h:
