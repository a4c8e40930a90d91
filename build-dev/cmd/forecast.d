build-dev/cmd/forecast.o: cmd/forecast.c cmd/cmd.h forecast/forecast.h \
 history/history.h util/resource.h partition/inventory.h history/source.h \
 history/prometheus.h util/jsonutil.h partition/schedule.h util/error.h \
 util/timeutil.h
cmd/cmd.h:
forecast/forecast.h:
history/history.h:
util/resource.h:
partition/inventory.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
partition/schedule.h:
util/error.h:
util/timeutil.h:
