build-dev/tests/unit/test_store.o: tests/unit/test_store.c plans/plan.h \
 util/resource.h plans/store.h util/error.h
plans/plan.h:
util/resource.h:
plans/store.h:
util/error.h:
