build-dev/partition/schedule.o: partition/schedule.c partition/schedule.h \
 partition/inventory.h history/history.h util/resource.h history/source.h \
 history/prometheus.h util/jsonutil.h util/error.h util/timeutil.h
partition/schedule.h:
partition/inventory.h:
history/history.h:
util/resource.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
util/error.h:
util/timeutil.h:
