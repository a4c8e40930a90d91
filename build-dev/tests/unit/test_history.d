build-dev/tests/unit/test_history.o: tests/unit/test_history.c \
 history/history.h util/resource.h tests/unit/helpers.h util/error.h
history/history.h:
util/resource.h:
tests/unit/helpers.h:
util/error.h:
