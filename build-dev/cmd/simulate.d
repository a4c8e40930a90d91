build-dev/cmd/simulate.o: cmd/simulate.c cmd/cmd.h history/history.h \
 util/resource.h partition/inventory.h history/source.h \
 history/prometheus.h util/jsonutil.h partition/simulate.h plans/plan.h \
 util/error.h
cmd/cmd.h:
history/history.h:
util/resource.h:
partition/inventory.h:
history/source.h:
history/prometheus.h:
util/jsonutil.h:
partition/simulate.h:
plans/plan.h:
util/error.h:
