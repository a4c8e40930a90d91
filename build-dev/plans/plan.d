build-dev/plans/plan.o: plans/plan.c plans/plan.h util/resource.h \
 util/error.h util/fsutil.h util/jsonutil.h util/sha256.h util/timeutil.h
plans/plan.h:
util/resource.h:
util/error.h:
util/fsutil.h:
util/jsonutil.h:
util/sha256.h:
util/timeutil.h:
