build-dev/history/source.o: history/source.c history/source.h \
 history/history.h util/resource.h history/prometheus.h util/jsonutil.h \
 history/archive.h util/error.h util/fsutil.h util/timeutil.h
history/source.h:
history/history.h:
util/resource.h:
history/prometheus.h:
util/jsonutil.h:
history/archive.h:
util/error.h:
util/fsutil.h:
util/timeutil.h:
