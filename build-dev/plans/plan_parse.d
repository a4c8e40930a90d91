build-dev/plans/plan_parse.o: plans/plan_parse.c plans/steps.h \
 plans/plan.h util/resource.h util/error.h util/jsonutil.h \
 util/timeutil.h
plans/steps.h:
plans/plan.h:
util/resource.h:
util/error.h:
util/jsonutil.h:
util/timeutil.h:
