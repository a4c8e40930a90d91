build-dev/cmd/validate.o: cmd/validate.c cmd/cmd.h history/history.h \
 util/resource.h partition/inventory.h history/source.h \
 history/prometheus.h util/jsonutil.h partition/schedule.h plans/plan.h \
 util/error.h
cmd/cmd.h:
history/history.h:
util/resource.h:
partition/inventory.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
partition/schedule.h:
plans/plan.h:
util/error.h:
