build-dev/tests/unit/test_profile.o: tests/unit/test_profile.c \
 history/history.h util/resource.h history/profiler.h util/buf.h \
 util/error.h
history/history.h:
util/resource.h:
history/profiler.h:
util/buf.h:
util/error.h:
