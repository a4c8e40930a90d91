build-dev/orchestrator/engine.o: orchestrator/engine.c \
 orchestrator/engine.h orchestrator/driver.h plans/plan.h util/resource.h \
 plans/steps.h util/error.h util/fsutil.h util/sha256.h
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
util/resource.h:
plans/steps.h:
util/error.h:
util/fsutil.h:
util/sha256.h:
