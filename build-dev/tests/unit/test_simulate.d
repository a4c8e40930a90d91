build-dev/tests/unit/test_simulate.o: tests/unit/test_simulate.c \
 partition/simulate.h history/history.h util/resource.h plans/plan.h
partition/simulate.h:
history/history.h:
util/resource.h:
plans/plan.h:
