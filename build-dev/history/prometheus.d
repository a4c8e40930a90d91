build-dev/history/prometheus.o: history/prometheus.c history/prometheus.h \
 history/history.h util/resource.h util/buf.h util/error.h util/fsutil.h \
 util/timeutil.h
history/prometheus.h:
history/history.h:
util/resource.h:
util/buf.h:
util/error.h:
util/fsutil.h:
util/timeutil.h:
