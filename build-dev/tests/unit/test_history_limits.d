build-dev/tests/unit/test_history_limits.o: \
 tests/unit/test_history_limits.c history/history.h util/resource.h \
 tests/unit/helpers.h util/error.h
history/history.h:
util/resource.h:
tests/unit/helpers.h:
util/error.h:
