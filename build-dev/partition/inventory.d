build-dev/partition/inventory.o: partition/inventory.c \
 partition/inventory.h history/history.h util/resource.h history/source.h \
 history/prometheus.h util/jsonutil.h util/error.h util/fsutil.h \
 util/timeutil.h
partition/inventory.h:
history/history.h:
util/resource.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
util/error.h:
util/fsutil.h:
util/timeutil.h:
