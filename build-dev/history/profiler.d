build-dev/history/profiler.o: history/profiler.c history/profiler.h \
 util/resource.h history/history.h util/buf.h util/error.h util/fsutil.h \
 util/timeutil.h
history/profiler.h:
util/resource.h:
history/history.h:
util/buf.h:
util/error.h:
util/fsutil.h:
util/timeutil.h:
