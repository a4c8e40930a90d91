build-dev/plans/store.o: plans/store.c plans/store.h plans/plan.h \
 util/resource.h util/error.h util/timeutil.h
plans/store.h:
plans/plan.h:
util/resource.h:
util/error.h:
util/timeutil.h:
