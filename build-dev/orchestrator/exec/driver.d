build-dev/orchestrator/exec/driver.o: orchestrator/exec/driver.c \
 orchestrator/exec/driver.h orchestrator/engine.h orchestrator/driver.h \
 plans/plan.h util/resource.h plans/steps.h util/buf.h util/error.h
orchestrator/exec/driver.h:
orchestrator/engine.h:
orchestrator/driver.h:
plans/plan.h:
util/resource.h:
plans/steps.h:
util/buf.h:
util/error.h:
