build-dev/plans/steps.o: plans/steps.c plans/steps.h plans/plan.h \
 util/resource.h util/error.h
plans/steps.h:
plans/plan.h:
util/resource.h:
util/error.h:
