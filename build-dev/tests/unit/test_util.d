build-dev/tests/unit/test_util.o: tests/unit/test_util.c \
 tests/unit/helpers.h util/buf.h util/error.h util/fsutil.h \
 util/jsonutil.h util/sha256.h util/timeutil.h
tests/unit/helpers.h:
util/buf.h:
util/error.h:
util/fsutil.h:
util/jsonutil.h:
util/sha256.h:
util/timeutil.h:
