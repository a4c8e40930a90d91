build-dev/partition/simulate.o: partition/simulate.c partition/simulate.h \
 history/history.h util/resource.h plans/plan.h util/error.h
partition/simulate.h:
history/history.h:
util/resource.h:
plans/plan.h:
util/error.h:
