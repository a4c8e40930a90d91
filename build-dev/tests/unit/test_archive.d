build-dev/tests/unit/test_archive.o: tests/unit/test_archive.c \
 history/archive.h history/history.h util/resource.h util/error.h
history/archive.h:
history/history.h:
util/resource.h:
util/error.h:
